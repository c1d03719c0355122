package lab.infra.core.openapi;

/**
 * Names of the shared error responses of the public API in the OpenAPI document
 * ({@code #/components/responses/<name>}, each an RFC 9457 problem+json). Controllers point at them
 * ({@code @ApiResponse(responseCode = "400", ref = BAD_REQUEST)}) so each operation lists exactly the
 * statuses its code can return; the test-side generator (OpenApiGeneration) defines them.
 */
public final class OpenApiResponses {

    public static final String BAD_REQUEST = "BadRequest";
    public static final String NOT_FOUND = "NotFound";
    public static final String PAYLOAD_TOO_LARGE = "PayloadTooLarge";
    public static final String UNSUPPORTED_MEDIA_TYPE = "UnsupportedMediaType";
    public static final String IDEMPOTENCY_KEY_REUSED = "IdempotencyKeyReused";
    public static final String DATABASE_UNAVAILABLE = "DatabaseUnavailable";
    /** On every operation: unexpected exceptions (500) and the chaos errors fault (500..599). */
    public static final String SERVER_ERROR = "ServerError";

    private OpenApiResponses() {
    }
}
