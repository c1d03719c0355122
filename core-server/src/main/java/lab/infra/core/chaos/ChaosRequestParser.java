package lab.infra.core.chaos;

import java.io.IOException;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import lab.infra.core.web.MalformedJson;

import lab.infra.core.chaos.ChaosKind.Param;

/**
 * Strict validation of a {@code POST /internal/chaos/{kind}} body, by hand rather than by
 * data binding so every refusal names the field and the reason, as the contract asks:
 * malformed JSON, a non-object body, unknown fields, non-integers and out-of-range values all
 * become {@code 400 {"error":"bad_request","message":"<field>: <why>"}}.
 */
final class ChaosRequestParser {

    private final ObjectReader reader;

    ChaosRequestParser(ObjectMapper objectMapper) {
        this.reader = MalformedJson.strictReader(objectMapper);
    }

    /**
     * Returns {@code duration_seconds} followed by every parameter of the kind, defaults filled.
     *
     * @throws ChaosException with status 400 when the body is not acceptable
     */
    Map<String, Integer> parse(ChaosKind kind, byte[] body) {
        JsonNode root = readTree(body);
        if (!root.isObject()) {
            throw ChaosException.badRequest("body", "must be a JSON object, got " + describe(root));
        }
        for (Iterator<String> names = root.fieldNames(); names.hasNext();) {
            String name = names.next();
            if (!name.equals(ChaosKind.DURATION.name()) && kind.params().stream().noneMatch(p -> p.name().equals(name))) {
                throw ChaosException.badRequest(name, "unknown field for kind '" + kind.id() + "' (accepted: "
                        + accepted(kind) + ")");
            }
        }
        Map<String, Integer> values = new LinkedHashMap<>();
        values.put(ChaosKind.DURATION.name(), value(root, ChaosKind.DURATION));
        for (Param param : kind.params()) {
            values.put(param.name(), value(root, param));
        }
        return values;
    }

    private JsonNode readTree(byte[] body) {
        if (body == null || body.length == 0) {
            throw ChaosException.badRequest("body", "required: a JSON object with duration_seconds");
        }
        try {
            JsonNode root = reader.readTree(body);
            if (root == null || root.isMissingNode()) {
                throw ChaosException.badRequest("body", "required: a JSON object with duration_seconds");
            }
            return root;
        } catch (JsonProcessingException ex) {
            throw ChaosException.badRequest("body", MalformedJson.describe(ex));
        } catch (IOException ex) {
            throw ChaosException.badRequest("body", "unreadable (" + ex.getMessage() + ")");
        }
    }

    private static int value(JsonNode root, Param param) {
        JsonNode node = root.get(param.name());
        if (node == null) {
            if (param.defaultValue() == null) {
                throw ChaosException.badRequest(param.name(), "required (integer " + param.min() + ".." + param.max() + ")");
            }
            return param.defaultValue();
        }
        if (!node.isIntegralNumber()) {
            throw ChaosException.badRequest(param.name(), "must be an integer, got " + describe(node));
        }
        if (!node.canConvertToInt() || node.intValue() < param.min() || node.intValue() > param.max()) {
            throw ChaosException.badRequest(param.name(), "must be between " + param.min() + " and " + param.max()
                    + ", got " + node.asText());
        }
        return node.intValue();
    }

    private static String accepted(ChaosKind kind) {
        StringBuilder names = new StringBuilder(ChaosKind.DURATION.name());
        kind.params().forEach(p -> names.append(", ").append(p.name()));
        return names.toString();
    }

    private static String describe(JsonNode node) {
        return switch (node.getNodeType()) {
            case STRING -> "a string";
            case NUMBER -> "a non-integer number";
            case BOOLEAN -> "a boolean";
            case NULL -> "null";
            case ARRAY -> "an array";
            case OBJECT -> "an object";
            default -> node.getNodeType().name().toLowerCase(Locale.ROOT);
        };
    }
}
