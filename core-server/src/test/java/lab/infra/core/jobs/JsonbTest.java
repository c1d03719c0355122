package lab.infra.core.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

class JsonbTest {

    private final ObjectMapper json = new ObjectMapper();

    @Test
    void findsNulInValuesAndKeysAtAnyDepth() throws Exception {
        assertThat(Jsonb.containsNul(json.readTree("{\"a\":[1,{\"b\":\"x\\u0000\"}]}"))).isTrue();
        assertThat(Jsonb.containsNul(json.readTree("{\"a\":{\"k\\u0000\":1}}"))).isTrue();
        assertThat(Jsonb.containsNul(json.readTree("[\"\\u0000\"]"))).isTrue();
        // The six characters \u0000 (an escaped backslash) are fine.
        assertThat(Jsonb.containsNul(json.readTree("{\"a\":\"\\\\u0000\",\"n\":null,\"x\":1.5}"))).isFalse();
    }

    @Test
    void replaceNulKeepsTheShapeAndEverythingElse() throws Exception {
        JsonNode cleaned = Jsonb.replaceNul(json.readTree(
                "{\"kind\":\"reset\",\"message\":\"a\\u0000b\",\"k\\u0000\":[\"\\u0000\",2,true,null,{\"x\":1.5}]}"));
        assertThat(cleaned).isEqualTo(json.readTree(
                "{\"kind\":\"reset\",\"message\":\"a\\ufffdb\",\"k\\ufffd\":[\"\\ufffd\",2,true,null,{\"x\":1.5}]}"));
        assertThat(Jsonb.containsNul(cleaned)).isFalse();
        assertThat(cleaned.toString()).startsWith("{\"kind\":\"reset\",\"message\":");
    }
}
