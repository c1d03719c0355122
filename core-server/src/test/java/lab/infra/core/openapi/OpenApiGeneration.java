package lab.infra.core.openapi;

import static lab.infra.core.openapi.OpenApiResponses.BAD_REQUEST;
import static lab.infra.core.openapi.OpenApiResponses.DATABASE_UNAVAILABLE;
import static lab.infra.core.openapi.OpenApiResponses.IDEMPOTENCY_KEY_REUSED;
import static lab.infra.core.openapi.OpenApiResponses.NOT_FOUND;
import static lab.infra.core.openapi.OpenApiResponses.PAYLOAD_TOO_LARGE;
import static lab.infra.core.openapi.OpenApiResponses.SERVER_ERROR;
import static lab.infra.core.openapi.OpenApiResponses.UNSUPPORTED_MEDIA_TYPE;

import java.math.BigDecimal;
import java.util.List;

import io.swagger.v3.oas.models.Components;
import io.swagger.v3.oas.models.OpenAPI;
import io.swagger.v3.oas.models.headers.Header;
import io.swagger.v3.oas.models.info.Info;
import io.swagger.v3.oas.models.media.Content;
import io.swagger.v3.oas.models.media.IntegerSchema;
import io.swagger.v3.oas.models.media.MediaType;
import io.swagger.v3.oas.models.media.ObjectSchema;
import io.swagger.v3.oas.models.media.Schema;
import io.swagger.v3.oas.models.media.StringSchema;
import io.swagger.v3.oas.models.responses.ApiResponse;
import io.swagger.v3.oas.models.servers.Server;
import org.springdoc.core.customizers.OpenApiCustomizer;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.context.annotation.Bean;

/**
 * What springdoc cannot read off the controllers: title, a relative server (the same document is
 * served on the app port and through nginx's /api/), the RFC 9457 problem schema and the shared
 * error responses the controllers name in {@link OpenApiResponses}. Test code, because springdoc
 * only runs here: it generates core-api.json, which is all the app ships.
 */
@TestConfiguration(proxyBeanMethods = false)
class OpenApiGeneration {

    private static final String PROBLEM = "Problem";

    @Bean
    OpenAPI coreApi() {
        Components components = new Components().addSchemas(PROBLEM, problemSchema())
            .addResponses(BAD_REQUEST, problem("Malformed or invalid input: broken JSON (trailing tokens and "
                    + "duplicate keys included), wrong types, unknown fields, bad query or path values, bad "
                    + "Idempotency-Key"))
            .addResponses(NOT_FOUND, problem("No such job"))
            .addResponses(PAYLOAD_TOO_LARGE, problem("Body over 65536 bytes, or payload over 16384 bytes as "
                    + "compact JSON"))
            .addResponses(UNSUPPORTED_MEDIA_TYPE, problem("Content-Type names a non-JSON type (none at all is "
                    + "read as JSON)"))
            .addResponses(IDEMPOTENCY_KEY_REUSED, problem("Idempotency-Key already used with a different body"))
            .addResponses(DATABASE_UNAVAILABLE, problem("Database unreachable, slow (2 s pool timeout) or "
                    + "deadlocked; retry later").addHeaderObject("Retry-After", new Header().required(true)
                        .description("Seconds to wait").schema(new IntegerSchema())))
            .addResponses(SERVER_ERROR, problem("Unexpected error, or one injected by the chaos errors fault"));
        return new OpenAPI()
            .info(new Info().title("infra-lab core-server API").version("1")
                .description("Jobs API of infra-lab's core service. Every error body is RFC 9457 "
                        + "application/problem+json. Every response carries X-Request-ID."))
            .addServersItem(new Server().url("/"))
            .components(components);
    }

    /** Any /api operation can end in a 5xx: unexpected exceptions and the chaos errors fault. */
    @Bean
    OpenApiCustomizer serverErrorOnEveryOperation() {
        return openApi -> openApi.getPaths().values().forEach(path -> path.readOperations().forEach(operation ->
                operation.getResponses().addApiResponse("5XX",
                        new ApiResponse().$ref("#/components/responses/" + SERVER_ERROR))));
    }

    /** RFC 9457 problem details as Spring's ProblemDetail writes them (extension members allowed). */
    private static Schema<?> problemSchema() {
        return new ObjectSchema()
            .description("RFC 9457 problem details. detail reads '<field>: <reason>' for client errors; "
                    + "it never carries a stack trace or an exception message.")
            .addProperty("type", new StringSchema().description("Problem type URI").example("about:blank"))
            .addProperty("title", new StringSchema().example("Bad Request"))
            .addProperty("status", new IntegerSchema().minimum(BigDecimal.valueOf(400))
                .maximum(BigDecimal.valueOf(599)))
            .addProperty("detail", new StringSchema().example("type: unknown job type 'resize' (known: quote)"))
            .addProperty("instance", new StringSchema().description("The request path").example("/api/jobs"))
            .required(List.of("title", "status"));
    }

    private static ApiResponse problem(String description) {
        MediaType problemJson = new MediaType().schema(new Schema<>().$ref("#/components/schemas/" + PROBLEM));
        return new ApiResponse().description(description).content(new Content()
            .addMediaType(org.springframework.http.MediaType.APPLICATION_PROBLEM_JSON_VALUE, problemJson));
    }
}
