/**
 * SDK helpers for tests against the local fleet: clients that are always stopped, BYOK session config
 * from the outputs, and a turn that fails loudly.
 */
import { CopilotClient, RuntimeConnection, approveAll } from "@github/copilot-sdk";
import type { CopilotSession, ResumeSessionConfig, SessionConfig } from "@github/copilot-sdk";
import type { FleetOutputs } from "../../components/contract/outputs";
import type { ChainEvent } from "../../smoke/events";

export class ClientPool {
    private readonly clients: CopilotClient[] = [];
    constructor(private readonly token: string) {}
    client(endpoint: string, token: string = this.token): CopilotClient {
        const c = new CopilotClient({ connection: RuntimeConnection.forUri(endpoint, { connectionToken: token }) });
        this.clients.push(c);
        return c;
    }
    /** forceStop: a client whose server was killed cannot stop gracefully. */
    async stopAll(): Promise<void> {
        await Promise.all(this.clients.splice(0).map((c) => c.forceStop().catch(() => undefined)));
    }
}

export function sessionConfig(outputs: FleetOutputs): SessionConfig & ResumeSessionConfig {
    const p = outputs.provider;
    if (!p) throw new Error("local fleet outputs have no provider");
    return { onPermissionRequest: approveAll, provider: { type: "openai", baseUrl: p.baseUrl, ...(p.apiKey ? { apiKey: p.apiKey } : {}) }, model: p.model };
}

export async function turn(s: CopilotSession, prompt: string, timeoutMs = 30_000): Promise<string> {
    const r = await s.sendAndWait({ prompt }, timeoutMs);
    const text = r?.data.content;
    if (!text) throw new Error(`no reply to ${prompt}`);
    return text;
}

export async function sessionEvents(s: CopilotSession): Promise<ChainEvent[]> {
    return (await s.getEvents()) as unknown as ChainEvent[];
}
