package lab.infra.core.requestid;

import java.util.UUID;
import java.util.regex.Pattern;

/** Request id conventions shared by the filter, the log formatter and outgoing clients. */
public final class RequestIds {

    /** Header nginx sets and every hop propagates. */
    public static final String HEADER = "X-Request-ID";

    /** MDC key; also the JSON log field name of the contract. */
    public static final String MDC_KEY = "request_id";

    // Accept what nginx ($request_id, 32 hex) and common tracers send; reject anything that
    // could break a log line or a header (spaces, quotes, control characters) or is huge.
    private static final Pattern ACCEPTED = Pattern.compile("[A-Za-z0-9._:-]{1,128}");

    private RequestIds() {
    }

    /** Returns the incoming id when it is safe to reuse, otherwise a fresh one. */
    public static String reuseOrGenerate(String incoming) {
        if (incoming != null && ACCEPTED.matcher(incoming).matches()) {
            return incoming;
        }
        return generate();
    }

    /** 32 lowercase hex characters, the same shape as nginx's $request_id. */
    public static String generate() {
        return UUID.randomUUID().toString().replace("-", "");
    }
}
