package lab.infra.core.jobs;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import lab.infra.core.web.MalformedJson;
import org.springframework.http.HttpStatus;

/**
 * Validates {@code {"type": "quote", "payload": {...}}} by hand so every 400 names the field and
 * the reason: malformed JSON (trailing tokens and duplicate keys included), wrong types, unknown
 * fields, unknown type, payload over 16 KiB (413).
 */
final class JobRequestParser {

    static final List<String> TYPES = List.of("quote");
    static final int MAX_PAYLOAD_BYTES = 16 * 1024;
    /** The whole body; a payload of 16 KiB plus generous room for whitespace and the envelope. */
    static final int MAX_BODY_BYTES = 64 * 1024;

    record JobRequest(String type, String payloadJson, String hash) {
    }

    private final ObjectReader reader;

    JobRequestParser(ObjectMapper objectMapper) {
        this.reader = MalformedJson.strictReader(objectMapper);
    }

    JobRequest parse(byte[] body) {
        if (body.length > MAX_BODY_BYTES) {
            throw tooLarge("body: must be at most " + MAX_BODY_BYTES + " bytes");
        }
        JsonNode root = readTree(body);
        if (!root.isObject()) {
            throw JobApiException.badRequest("body", "must be a JSON object, got " + describe(root));
        }
        for (Iterator<String> names = root.fieldNames(); names.hasNext();) {
            String name = names.next();
            if (!name.equals("type") && !name.equals("payload")) {
                throw JobApiException.badRequest(name, "unknown field (accepted: type, payload)");
            }
        }
        JsonNode type = root.get("type");
        if (type == null) {
            throw JobApiException.badRequest("type", "required (one of: " + String.join(", ", TYPES) + ")");
        }
        if (!type.isTextual()) {
            throw JobApiException.badRequest("type", "must be a string, got " + describe(type));
        }
        if (!TYPES.contains(type.textValue())) {
            throw JobApiException.badRequest("type", "unknown job type '" + type.textValue() + "' (known: "
                    + String.join(", ", TYPES) + ")");
        }
        JsonNode payload = root.get("payload");
        if (payload == null) {
            throw JobApiException.badRequest("payload", "required (a JSON object)");
        }
        if (!payload.isObject()) {
            throw JobApiException.badRequest("payload", "must be a JSON object, got " + describe(payload));
        }
        if (Jsonb.containsNul(payload)) {
            // PostgreSQL's jsonb cannot store U+0000 ("unsupported Unicode escape sequence"): without
            // this the INSERT fails and the client gets a 500. Found by the schemathesis contract test.
            throw JobApiException.badRequest("payload", "must not contain the NUL character (\\u0000) in any "
                    + "string or key");
        }
        String payloadJson = payload.toString();
        int size = payloadJson.getBytes(StandardCharsets.UTF_8).length;
        if (size > MAX_PAYLOAD_BYTES) {
            throw tooLarge("payload: must be at most " + MAX_PAYLOAD_BYTES + " bytes as compact JSON, got " + size);
        }
        return new JobRequest(type.textValue(), payloadJson, sha256(type.textValue() + "\n" + payloadJson));
    }

    static JobApiException tooLarge(String detail) {
        return new JobApiException(HttpStatus.PAYLOAD_TOO_LARGE, detail);
    }

    private JsonNode readTree(byte[] body) {
        if (body.length == 0) {
            throw JobApiException.badRequest("body", "required: a JSON object with type and payload");
        }
        try {
            JsonNode root = reader.readTree(body);
            if (root == null || root.isMissingNode()) {
                throw JobApiException.badRequest("body", "required: a JSON object with type and payload");
            }
            return root;
        } catch (JsonProcessingException ex) {
            throw JobApiException.badRequest("body", MalformedJson.describe(ex));
        } catch (IOException ex) {
            throw JobApiException.badRequest("body", "unreadable");
        }
    }

    static String describe(JsonNode node) {
        return switch (node.getNodeType()) {
            case STRING -> "a string";
            case NUMBER -> "a number";
            case BOOLEAN -> "a boolean";
            case NULL -> "null";
            case ARRAY -> "an array";
            case OBJECT -> "an object";
            default -> node.getNodeType().name().toLowerCase(Locale.ROOT);
        };
    }

    private static String sha256(String text) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException ex) {
            throw new IllegalStateException(ex);
        }
    }
}
