package lab.infra.core.chaos;

import java.io.IOException;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.web.servlet.function.RouterFunction;
import org.springframework.web.servlet.function.RouterFunctions;
import org.springframework.web.servlet.function.ServerRequest;
import org.springframework.web.servlet.function.ServerResponse;

/**
 * The chaos contract's HTTP API (docs/contracts/chaos.md), as functional routes:
 *
 * <pre>
 * GET    /internal/chaos          200 {"service", "faults": [Fault...]}
 * POST   /internal/chaos/{kind}   201 {"fault": Fault} | 400 | 404 unknown kind | 409 already active
 * DELETE /internal/chaos          200 {"reverted": [kind...]}
 * DELETE /internal/chaos/{kind}   200 {"reverted": [kind]} | 404 unknown or not active
 * </pre>
 *
 * Errors use the contract's {@code {"error", "message"}} body. Only ever registered in the
 * management context; see {@link ChaosManagementContextConfiguration}.
 */
final class ChaosEndpoint {

    static final String PATH = "/internal/chaos";

    private final ChaosService chaos;
    private final ChaosRequestParser parser;
    private final String serviceName;

    ChaosEndpoint(ChaosService chaos, ObjectMapper objectMapper, String serviceName) {
        this.chaos = chaos;
        this.parser = new ChaosRequestParser(objectMapper);
        this.serviceName = serviceName;
    }

    RouterFunction<ServerResponse> routes() {
        return RouterFunctions.route()
            .GET(PATH, request -> list())
            .DELETE(PATH, request -> revertAll())
            .POST(PATH + "/{kind}", this::inject)
            .DELETE(PATH + "/{kind}", this::revert)
            // Anything else on these two paths: 405 in the contract's shape, not the container's page.
            .route(request -> request.path().equals(PATH), request -> notAllowed("GET, DELETE"))
            .route(request -> request.path().startsWith(PATH + "/") && request.path().indexOf('/', PATH.length() + 1) < 0,
                    request -> notAllowed("POST, DELETE"))
            .onError(ChaosException.class, (ex, request) -> error((ChaosException) ex))
            .build();
    }

    private ServerResponse list() {
        Instant now = chaos.now();
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("service", serviceName);
        body.put("faults", chaos.activeFaults().stream().map(fault -> fault.toJson(now)).toList());
        return json(HttpStatus.OK, body);
    }

    private ServerResponse inject(ServerRequest request) throws IOException {
        ChaosKind kind = kind(request);
        // The raw bytes, whatever the Content-Type: `curl -d` sends form-urlencoded, which
        // Spring's body readers would re-encode from the request parameters.
        byte[] body = request.servletRequest().getInputStream().readAllBytes();
        Map<String, Integer> params = parser.parse(kind, body);
        ActiveFault fault = chaos.inject(kind, params);
        return json(HttpStatus.CREATED, Map.of("fault", fault.toJson(chaos.now())));
    }

    private ServerResponse revert(ServerRequest request) {
        ChaosKind kind = kind(request);
        chaos.revert(kind);
        return json(HttpStatus.OK, Map.of("reverted", List.of(kind.id())));
    }

    private ServerResponse revertAll() {
        List<String> reverted = chaos.revertAll("delete").stream().map(ChaosKind::id).toList();
        return json(HttpStatus.OK, Map.of("reverted", reverted));
    }

    private static ChaosKind kind(ServerRequest request) {
        String id = request.pathVariable("kind");
        return ChaosKind.fromId(id).orElseThrow(() -> ChaosException.notFound(
                "kind: unknown chaos kind '" + id + "' (known: " + String.join(", ", ChaosKind.ids()) + ")"));
    }

    private static ServerResponse notAllowed(String allow) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("error", "method_not_allowed");
        body.put("message", "method: allowed here are " + allow);
        return ServerResponse.status(HttpStatus.METHOD_NOT_ALLOWED).header("Allow", allow)
            .contentType(MediaType.APPLICATION_JSON).body(body);
    }

    private static ServerResponse error(ChaosException ex) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("error", ex.error());
        body.put("message", ex.getMessage());
        return json(ex.status(), body);
    }

    private static ServerResponse json(HttpStatus status, Object body) {
        return ServerResponse.status(status).contentType(MediaType.APPLICATION_JSON).body(body);
    }
}
