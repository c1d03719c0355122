package lab.infra.core.jobs;

import java.util.Iterator;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;

/**
 * The one JSON text PostgreSQL's {@code jsonb} refuses: U+0000 in any string or key ("unsupported
 * Unicode escape sequence", SQLSTATE 22P05). Every JSON written to a jsonb column from outside
 * input is checked here first, or the write fails and the caller gets a 500.
 */
final class Jsonb {

    /** What U+0000 becomes where core keeps the text anyway (error messages): U+FFFD REPLACEMENT CHARACTER. */
    static final char REPLACEMENT = '\uFFFD';

    private Jsonb() {
    }

    /** True when U+0000 is in any string value or object key, at any depth. */
    static boolean containsNul(JsonNode node) {
        if (node.isTextual()) {
            return node.textValue().indexOf('\0') >= 0;
        }
        for (Iterator<Map.Entry<String, JsonNode>> fields = node.fields(); fields.hasNext();) {
            Map.Entry<String, JsonNode> field = fields.next();
            if (field.getKey().indexOf('\0') >= 0 || containsNul(field.getValue())) {
                return true;
            }
        }
        if (node.isArray()) {
            for (JsonNode element : node) {
                if (containsNul(element)) {
                    return true;
                }
            }
        }
        return false;
    }

    /** A copy with every U+0000 in strings and keys replaced by {@link #REPLACEMENT}; other values as they are. */
    static JsonNode replaceNul(JsonNode node) {
        if (node.isTextual()) {
            return TextNode.valueOf(replaceNul(node.textValue()));
        }
        if (node.isObject()) {
            ObjectNode copy = JsonNodeFactory.instance.objectNode();
            // Two keys differing only in the NUL/U+FFFD spot would merge; the later one wins, as in a JSON parser.
            node.fields().forEachRemaining(field -> copy.set(replaceNul(field.getKey()), replaceNul(field.getValue())));
            return copy;
        }
        if (node.isArray()) {
            ArrayNode copy = JsonNodeFactory.instance.arrayNode(node.size());
            node.forEach(element -> copy.add(replaceNul(element)));
            return copy;
        }
        return node;
    }

    static String replaceNul(String text) {
        return (text == null) ? null : text.replace('\0', REPLACEMENT);
    }
}
