package lab.infra.core.requestid;

import static org.springframework.test.web.client.match.MockRestRequestMatchers.header;
import static org.springframework.test.web.client.match.MockRestRequestMatchers.headerDoesNotExist;
import static org.springframework.test.web.client.match.MockRestRequestMatchers.requestTo;
import static org.springframework.test.web.client.response.MockRestResponseCreators.withSuccess;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.MDC;
import org.springframework.test.web.client.MockRestServiceServer;
import org.springframework.web.client.RestClient;

class RequestIdPropagationTest {

    private final RestClient.Builder builder = RestClient.builder();
    private final MockRestServiceServer server = MockRestServiceServer.bindTo(builder).build();

    @AfterEach
    void clearMdc() {
        MDC.clear();
    }

    @Test
    void currentRequestIdIsSentDownstream() {
        new RequestIdPropagation().customize(builder);
        server.expect(requestTo("http://worker/jobs")).andExpect(header(RequestIds.HEADER, "req-42"))
            .andRespond(withSuccess());

        MDC.put(RequestIds.MDC_KEY, "req-42");
        builder.build().get().uri("http://worker/jobs").retrieve().toBodilessEntity();
        server.verify();
    }

    @Test
    void noHeaderOutsideARequest() {
        new RequestIdPropagation().customize(builder);
        server.expect(requestTo("http://worker/jobs")).andExpect(headerDoesNotExist(RequestIds.HEADER))
            .andRespond(withSuccess());

        builder.build().get().uri("http://worker/jobs").retrieve().toBodilessEntity();
        server.verify();
    }
}
