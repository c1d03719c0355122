package lab.infra.core;

import lab.infra.core.lifecycle.RequiredSettings;
import lab.infra.core.lifecycle.TermSignalExit;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;

@SpringBootApplication
public class CoreServerApplication {

    public static void main(String[] args) {
        // Installed only here (not in tests) so the real process exits 0 on SIGTERM.
        TermSignalExit.install();
        RequiredSettings.checkOrExit();
        SpringApplication.run(CoreServerApplication.class, args);
    }
}
