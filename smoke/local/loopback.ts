/** Listening on 127.0.0.1 for the local stand-ins (stub model, fake GitHub API), with a stop that does not wait for idle keep-alive sockets. */
import type * as http from "node:http";
import type { AddressInfo, Socket } from "node:net";

export interface LoopbackListener {
    readonly port: number;
    /** Close the server and drop open connections. Idempotent. */
    stop(): Promise<void>;
}

export async function listenOnLoopback(server: http.Server, port = 0, host = "127.0.0.1"): Promise<LoopbackListener> {
    const sockets = new Set<Socket>();
    server.on("connection", (s) => {
        sockets.add(s);
        s.on("close", () => sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => resolve());
    });
    let stopped: Promise<void> | undefined;
    return {
        port: (server.address() as AddressInfo).port,
        stop: () => {
            stopped ??= new Promise<void>((resolve) => {
                server.close(() => resolve());
                for (const s of sockets) s.destroy();
            });
            return stopped;
        },
    };
}
