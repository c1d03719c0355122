package lab.infra.core.openapi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.get;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.boot.test.autoconfigure.web.servlet.AutoConfigureMockMvc;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.context.annotation.Import;
import org.springframework.mock.web.MockHttpServletResponse;
import org.springframework.test.web.servlet.MockMvc;
import org.springframework.web.servlet.mvc.method.annotation.RequestMappingHandlerMapping;

/**
 * The checked-in contract (src/main/resources/openapi/core-api.json) is exactly what springdoc
 * (test scope; see OpenApiGeneration) generates from the controllers, and it is what
 * /api/openapi.json serves. When a controller
 * changes, this test fails until the file is regenerated:
 * {@code mvn -B -q test -Dtest=OpenApiContractTest -Dopenapi.write=true} (then review the diff).
 */
@SpringBootTest(properties = "springdoc.api-docs.enabled=true")
@Import(OpenApiGeneration.class)
@AutoConfigureMockMvc
class OpenApiContractTest {

    private static final Path CHECKED_IN = Path.of("src/main/resources", OpenApiDocumentController.LOCATION);
    private static final ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    @Autowired
    private MockMvc mvc;

    @Autowired
    @Qualifier("requestMappingHandlerMapping")
    private RequestMappingHandlerMapping mappings;

    private JsonNode generated() throws Exception {
        MockHttpServletResponse response = mvc.perform(get("/v3/api-docs")).andReturn().getResponse();
        assertThat(response.getStatus()).isEqualTo(200);
        return json.readTree(response.getContentAsString(StandardCharsets.UTF_8));
    }

    @Test
    void checkedInDocumentIsWhatSpringdocGenerates() throws Exception {
        JsonNode generated = generated();
        if (Boolean.getBoolean("openapi.write")) {
            Files.writeString(CHECKED_IN, json.writeValueAsString(generated) + "\n");
        }
        // Compared as JSON (key order and whitespace aside), so only a change of meaning fails.
        assertThat(json.readTree(Files.readString(CHECKED_IN)))
            .as("%s differs from springdoc's output; regenerate with "
                    + "mvn -B -q test -Dtest=OpenApiContractTest -Dopenapi.write=true", CHECKED_IN)
            .isEqualTo(generated);
    }

    @Test
    void appServesTheCheckedInDocument() throws Exception {
        // While regenerating, the classpath still holds the previous file (copied before the tests ran).
        assumeFalse(Boolean.getBoolean("openapi.write"), "regenerating");
        MockHttpServletResponse response = mvc.perform(get("/api/openapi.json")).andReturn().getResponse();
        assertThat(response.getStatus()).isEqualTo(200);
        assertThat(response.getContentType()).isEqualTo("application/json");
        assertThat(response.getContentAsString(StandardCharsets.UTF_8)).isEqualTo(Files.readString(CHECKED_IN));
    }

    /** Every public handler is in the contract, and nothing internal leaked into it. */
    @Test
    void everyApiMappingIsDocumentedAndNothingElse() throws Exception {
        Set<String> handled = new TreeSet<>();
        mappings.getHandlerMethods().forEach((info, method) -> {
            if (method.getBeanType() == OpenApiDocumentController.class) {
                return;
            }
            for (String pattern : info.getPatternValues()) {
                info.getMethodsCondition().getMethods()
                    .forEach(verb -> handled.add(verb.name().toLowerCase(Locale.ROOT) + " " + pattern));
            }
        });
        Set<String> documented = new TreeSet<>();
        JsonNode paths = json.readTree(Files.readString(CHECKED_IN)).get("paths");
        paths.fieldNames().forEachRemaining(path -> paths.get(path).fieldNames()
            .forEachRemaining(verb -> documented.add(verb + " " + path)));

        Set<String> publicHandlers = new TreeSet<>(handled);
        publicHandlers.removeIf(entry -> !entry.split(" ")[1].startsWith("/api/"));
        assertThat(documented).isEqualTo(publicHandlers);
        assertThat(documented).noneMatch(entry -> entry.contains("/internal/") || entry.contains("/actuator"));
        assertThat(handled).contains("put /internal/jobs/{id}/result");
    }
}
