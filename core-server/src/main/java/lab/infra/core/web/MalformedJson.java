package lab.infra.core.web;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;

/**
 * What counts as "this body is not valid JSON" and one wording for it, shared by every
 * hand-checked request body.
 */
public final class MalformedJson {

    private MalformedJson() {
    }

    /**
     * A reader for which trailing tokens and duplicate keys are malformed too (Jackson tolerates
     * both by default).
     */
    public static ObjectReader strictReader(ObjectMapper objectMapper) {
        return objectMapper.reader()
            .with(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .with(StreamReadFeature.STRICT_DUPLICATE_DETECTION);
    }

    /** "malformed JSON at line L, column C: <Jackson's own words>", without its source excerpts. */
    public static String describe(JsonProcessingException ex) {
        JsonLocation location = ex.getLocation();
        String where = (location != null && location.getLineNr() > 0)
                ? " at line " + location.getLineNr() + ", column " + location.getColumnNr() : "";
        String reason = String.valueOf(ex.getOriginalMessage());
        int nested = reason.indexOf(" (start marker at");
        if (nested >= 0) {
            reason = reason.substring(0, nested);
        }
        int newline = reason.indexOf('\n');
        return "malformed JSON" + where + ": " + ((newline >= 0) ? reason.substring(0, newline) : reason);
    }
}
