package lab.infra.core.chaos;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A ballast file of {@code size_mib} under the chaos disk directory, written in 1 MiB chunks
 * by a background thread. A full disk (ENOSPC) stops the writing but not the fault: the file
 * keeps what was written (reported as {@code written_mib}) until revert deletes it.
 */
final class DiskBallast implements FaultEffect {

    private static final Logger log = LoggerFactory.getLogger(DiskBallast.class);
    private static final int CHUNK = 1024 * 1024;

    /**
     * Ballast files carry the host name (the container id under Docker), so a shared
     * CHAOS_DISK_PATH never makes one replica delete another's ballast.
     */
    static final String PREFIX = "ballast-" + hostName() + "-";

    private final Path file;
    private final int sizeMib;
    private final FileChannel channel;
    private final Thread thread;
    private volatile long writtenBytes;
    private volatile String status = "writing";
    private volatile boolean stopped;

    /** Creates the file now, so an unusable directory is refused at injection. */
    DiskBallast(Path directory, int sizeMib) throws IOException {
        Files.createDirectories(directory);
        this.file = directory.toAbsolutePath().resolve(PREFIX + System.currentTimeMillis() + ".bin");
        this.sizeMib = sizeMib;
        this.channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        this.thread = new Thread(this::write, "chaos-disk");
        this.thread.setDaemon(true);
        this.thread.start();
    }

    private void write() {
        // Non-zero content: no sparse file, nothing a compressing filesystem could shrink away.
        byte[] pattern = new byte[CHUNK];
        Arrays.fill(pattern, (byte) 0x5a);
        ByteBuffer buffer = ByteBuffer.wrap(pattern);
        try {
            long target = (long) sizeMib * CHUNK;
            while (!stopped && writtenBytes < target) {
                buffer.clear();
                while (buffer.hasRemaining()) {
                    writtenBytes += channel.write(buffer);
                }
            }
            if (!stopped) {
                // Delayed allocation can defer ENOSPC to the flush; make the ballast real.
                channel.force(false);
                status = "complete";
            }
        } catch (ClosedChannelException ex) {
            // reverted while writing
        } catch (IOException ex) {
            if (isNoSpace(ex)) {
                status = "disk_full";
                log.atWarn().addKeyValue("kind", "disk").addKeyValue("written_mib", writtenMib())
                    .addKeyValue("path", file.toString()).log("chaos disk ballast stopped: no space left on device");
            } else {
                status = "error";
                log.atError().addKeyValue("kind", "disk").addKeyValue("written_mib", writtenMib())
                    .addKeyValue("path", file.toString()).setCause(ex).log("chaos disk ballast stopped by an I/O error");
            }
        }
    }

    private static boolean isNoSpace(IOException ex) {
        String message = ex.getMessage();
        return message != null && (message.contains("No space left") || message.contains("ENOSPC")
                || message.contains("Disk quota exceeded"));
    }

    private static String hostName() {
        String name = System.getenv("HOSTNAME");
        if (name == null || name.isBlank()) {
            try {
                name = InetAddress.getLocalHost().getHostName();
            } catch (IOException ex) {
                name = "localhost";
            }
        }
        return name.replaceAll("[^A-Za-z0-9._-]", "_");
    }

    /**
     * Removes ballast this host left behind. Nothing reverts a fault when the JVM dies
     * without running shutdown hooks (the memory drill's ExitOnOutOfMemoryError, a kill -9),
     * and a restarted container keeps its filesystem.
     */
    /**
     * Creates the directory at startup, not only at the first injection: the disk metrics
     * (management.metrics.system.diskspace.paths) read a missing directory as 0 bytes free, which
     * would look like a full disk. Failure is only logged; injection reports it as a 500.
     */
    static void prepareDirectory(Path directory) {
        try {
            Files.createDirectories(directory);
        } catch (IOException ex) {
            log.atWarn().addKeyValue("kind", "disk").addKeyValue("path", directory.toString()).setCause(ex)
                .log("chaos disk directory could not be created; disk metrics read 0 bytes for it");
        }
    }

    static void removeLeftovers(Path directory) {
        if (!Files.isDirectory(directory)) {
            return;
        }
        try (DirectoryStream<Path> leftovers = Files.newDirectoryStream(directory, PREFIX + "*.bin")) {
            for (Path leftover : leftovers) {
                Files.deleteIfExists(leftover);
                log.atWarn().addKeyValue("kind", "disk").addKeyValue("path", leftover.toString())
                    .log("chaos disk ballast left over from a previous run removed");
            }
        } catch (IOException ex) {
            log.atWarn().addKeyValue("kind", "disk").addKeyValue("path", directory.toString()).setCause(ex)
                .log("chaos disk ballast directory could not be cleaned");
        }
    }

    private int writtenMib() {
        return (int) (writtenBytes / CHUNK);
    }

    Path file() {
        return file;
    }

    @Override
    public void revert() {
        stopped = true;
        try {
            thread.join(5_000);
        } catch (InterruptedException ex) {
            Thread.currentThread().interrupt();
        }
        try {
            channel.close();
        } catch (IOException ex) {
            // closing is best effort; deleting below is what frees the space
        }
        try {
            Files.deleteIfExists(file);
        } catch (IOException ex) {
            log.atError().addKeyValue("kind", "disk").addKeyValue("path", file.toString()).setCause(ex)
                .log("chaos disk ballast could not be removed");
        }
    }

    @Override
    public Map<String, Object> state() {
        Map<String, Object> state = new LinkedHashMap<>();
        state.put("path", file.toString());
        state.put("written_mib", writtenMib());
        state.put("status", status);
        return state;
    }
}
