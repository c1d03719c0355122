package lab.infra.core.requestid;

import org.slf4j.MDC;
import org.springframework.boot.web.client.RestClientCustomizer;
import org.springframework.http.client.ClientHttpRequestInterceptor;
import org.springframework.stereotype.Component;
import org.springframework.web.client.RestClient;

/**
 * Adds the current request id to every call made with a RestClient built from Spring's
 * RestClient.Builder, so downstream services log the same id.
 */
@Component
public class RequestIdPropagation implements RestClientCustomizer {

    @Override
    public void customize(RestClient.Builder builder) {
        builder.requestInterceptor(interceptor());
    }

    static ClientHttpRequestInterceptor interceptor() {
        return (request, body, execution) -> {
            String requestId = MDC.get(RequestIds.MDC_KEY);
            if (requestId != null && !request.getHeaders().containsKey(RequestIds.HEADER)) {
                request.getHeaders().set(RequestIds.HEADER, requestId);
            }
            return execution.execute(request, body);
        };
    }
}
