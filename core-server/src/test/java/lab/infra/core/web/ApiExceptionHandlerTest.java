package lab.infra.core.web;

import static org.assertj.core.api.Assertions.assertThat;
import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.get;
import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.post;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.content;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.jsonPath;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.status;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.autoconfigure.web.servlet.WebMvcTest;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.context.annotation.Import;
import org.springframework.http.MediaType;
import org.springframework.test.web.servlet.MockMvc;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

@WebMvcTest(controllers = ApiExceptionHandlerTest.FailingController.class)
@Import(ApiExceptionHandlerTest.FailingController.class)
@ExtendWith(OutputCaptureExtension.class)
class ApiExceptionHandlerTest {

    @Autowired
    private MockMvc mvc;

    @Test
    void unexpectedErrorIsProblemJsonWithoutInternals(CapturedOutput output) throws Exception {
        String body = mvc.perform(get("/test/fail").header("X-Request-ID", "req-500"))
            .andExpect(status().isInternalServerError())
            .andExpect(content().contentType(MediaType.APPLICATION_PROBLEM_JSON))
            .andExpect(jsonPath("$.status").value(500))
            .andReturn().getResponse().getContentAsString();
        assertThat(body).doesNotContain("db password", "IllegalStateException", "\tat ");

        // The details go to the log instead, tied to the request id.
        JsonNode errorLine = null;
        for (String raw : output.getOut().split("\n")) {
            if (raw.contains("unhandled exception")) {
                errorLine = new ObjectMapper().readTree(raw);
            }
        }
        assertThat(errorLine).as(output.getOut()).isNotNull();
        assertThat(errorLine.get("level").asText()).isEqualTo("error");
        assertThat(errorLine.get("request_id").asText()).isEqualTo("req-500");
        assertThat(errorLine.get("error").asText()).contains("IllegalStateException", "db password");
    }

    @Test
    void springErrorsAreProblemJsonToo() throws Exception {
        mvc.perform(post("/test/fail"))
            .andExpect(status().isMethodNotAllowed())
            .andExpect(content().contentType(MediaType.APPLICATION_PROBLEM_JSON));
        mvc.perform(get("/api/unknown"))
            .andExpect(status().isNotFound())
            .andExpect(content().contentType(MediaType.APPLICATION_PROBLEM_JSON));
    }

    @RestController
    static class FailingController {
        @GetMapping("/test/fail")
        String fail() {
            throw new IllegalStateException("db password rejected");
        }
    }
}
