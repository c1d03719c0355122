package lab.infra.core.requestid;

import static org.assertj.core.api.Assertions.assertThat;
import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.get;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.content;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.header;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.status;

import org.junit.jupiter.api.Test;
import org.slf4j.MDC;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.autoconfigure.web.servlet.WebMvcTest;
import org.springframework.context.annotation.Import;
import org.springframework.test.web.servlet.MockMvc;
import org.springframework.test.web.servlet.MvcResult;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

@WebMvcTest(controllers = RequestIdFilterTest.MdcEchoController.class)
@Import(RequestIdFilterTest.MdcEchoController.class)
class RequestIdFilterTest {

    @Autowired
    private MockMvc mvc;

    @Test
    void incomingIdIsEchoedAndVisibleToTheHandler() throws Exception {
        mvc.perform(get("/test/mdc").header(RequestIds.HEADER, "0123abcd-req.1"))
            .andExpect(status().isOk())
            .andExpect(header().string(RequestIds.HEADER, "0123abcd-req.1"))
            .andExpect(content().string("0123abcd-req.1"));
        // MockMvc runs on this thread: the filter must have cleaned up after itself.
        assertThat(MDC.get(RequestIds.MDC_KEY)).isNull();
    }

    @Test
    void missingIdIsGeneratedInNginxShape() throws Exception {
        MvcResult result = mvc.perform(get("/test/mdc")).andExpect(status().isOk()).andReturn();
        String id = result.getResponse().getHeader(RequestIds.HEADER);
        assertThat(id).matches("[0-9a-f]{32}");
        assertThat(result.getResponse().getContentAsString()).isEqualTo(id);
    }

    @Test
    void unsafeIdIsReplaced() throws Exception {
        for (String unsafe : new String[] { "a b", "x\"}{", "x".repeat(129), "" }) {
            mvc.perform(get("/test/mdc").header(RequestIds.HEADER, unsafe))
                .andExpect(header().string(RequestIds.HEADER, org.hamcrest.Matchers.matchesPattern("[0-9a-f]{32}")));
        }
    }

    @Test
    void errorResponsesCarryTheIdToo() throws Exception {
        mvc.perform(get("/test/nothing-here").header(RequestIds.HEADER, "req-404"))
            .andExpect(status().isNotFound())
            .andExpect(header().string(RequestIds.HEADER, "req-404"));
    }

    @Test
    void generatedIdsDiffer() {
        assertThat(RequestIds.generate()).isNotEqualTo(RequestIds.generate());
    }

    @RestController
    static class MdcEchoController {
        @GetMapping("/test/mdc")
        String mdc() {
            return MDC.get(RequestIds.MDC_KEY);
        }
    }
}
