import { describe, expect, it } from "vitest";
import { haproxyConfig, jsonRpcFrameHex } from "../../../components/contract/haproxy";

describe("haproxyConfig", () => {
    it("redispatches refused connects and health-checks with a real JSON-RPC connect + ping", () => {
        const cfg = haproxyConfig({ bind: "127.0.0.1:1", backends: [{ name: "r0", address: "127.0.0.1:2" }], connectionToken: "tok" });
        expect(cfg).toMatch(/option redispatch 1/);
        expect(cfg).toMatch(/retries 3/);
        expect(cfg).toMatch(/on-marked-down shutdown-sessions/);
        expect(cfg).toMatch(/tcp-check expect string protocolVersion/);
        expect(cfg).toMatch(/tcp-check expect string pong/);
        const hex = [...cfg.matchAll(/tcp-check send-binary ([0-9a-f]+)/g)].map((m) => Buffer.from(m[1], "hex").toString());
        expect(hex[0]).toMatch(/^Content-Length: (\d+)\r\n\r\n\{.*"method":"connect".*"token":"tok"/);
        expect(hex[1]).toMatch(/"method":"ping"/);
        expect(cfg).toMatch(/bind 127\.0\.0\.1:1\n/);
        expect(cfg).toMatch(/server r0 127\.0\.0\.1:2 check\n/);
        expect(cfg).not.toMatch(/resolvers/);
    });

    it("frames with the exact byte length", () => {
        const text = Buffer.from(jsonRpcFrameHex(1, "ping", { message: "é" }), "hex").toString("utf8");
        const [, len, body] = /^Content-Length: (\d+)\r\n\r\n(.*)$/s.exec(text) ?? [];
        expect(Number(len)).toBe(Buffer.byteLength(body, "utf8"));
        expect(JSON.parse(body)).toEqual({ jsonrpc: "2.0", id: 1, method: "ping", params: { message: "é" } });
    });

    it("resolves backend names at run time through a resolver (Docker's DNS)", () => {
        const cfg = haproxyConfig({ bind: "*:4321", backends: [{ name: "copilot-1", address: "copilot-1:4321" }], connectionToken: "t", resolver: "127.0.0.11:53" });
        expect(cfg).toMatch(/resolvers dns\n\s+nameserver dns 127\.0\.0\.11:53/);
        expect(cfg).toMatch(/server copilot-1 copilot-1:4321 check resolvers dns init-addr last,libc,none/);
    });

    it("takes the nameservers from the container's resolv.conf when asked (any engine's DNS)", () => {
        const cfg = haproxyConfig({ bind: "*:4321", backends: [{ name: "copilot-1", address: "copilot-1:4321" }], connectionToken: "t", resolver: "resolv.conf" });
        expect(cfg).toMatch(/resolvers dns\n\s+parse-resolv-conf\n/);
        expect(cfg).not.toMatch(/nameserver/);
        expect(cfg).toMatch(/server copilot-1 copilot-1:4321 check resolvers dns init-addr last,libc,none/);
    });
});
