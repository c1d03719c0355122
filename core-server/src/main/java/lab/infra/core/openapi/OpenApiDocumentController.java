package lab.infra.core.openapi;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

import io.swagger.v3.oas.annotations.Hidden;
import org.springframework.core.io.ClassPathResource;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

/**
 * Serves the checked-in contract, openapi/core-api.json, at /api/openapi.json (nginx routes /api/
 * here). The file rather than springdoc's live output: clients get exactly what review and
 * OpenApiContractTest saw, and springdoc (test scope) neither ships nor scans anything at run time.
 */
@Hidden
@RestController
class OpenApiDocumentController {

    static final String LOCATION = "openapi/core-api.json";

    private final byte[] document;

    OpenApiDocumentController() {
        try (InputStream in = new ClassPathResource(LOCATION).getInputStream()) {
            this.document = in.readAllBytes();
        } catch (IOException ex) {
            throw new UncheckedIOException("missing classpath:" + LOCATION, ex);
        }
    }

    @GetMapping(path = "/api/openapi.json", produces = MediaType.APPLICATION_JSON_VALUE)
    ResponseEntity<byte[]> openApi() {
        return ResponseEntity.ok().contentType(MediaType.APPLICATION_JSON).body(document);
    }
}
