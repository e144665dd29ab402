import { describe, expect, it } from "vitest";
import { ConfigError, parseFleetConfig, RawConfig } from "../../../components/config";

const perUser: RawConfig = { platform: "kubernetes", mode: "per-user", users: '["alice","bob"]', githubToken: "gho_service", image: "registry.example.com/copilot-cli:1.0.102" };

function messages(raw: RawConfig): string[] {
    try {
        parseFleetConfig(raw);
    } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as ConfigError).issues.map((i) => i.message);
    }
    throw new Error("expected a ConfigError");
}

describe("idleSuspendMinutes", () => {
    it("is off by default", () => {
        expect(parseFleetConfig(perUser).idleSuspendMinutes).toBeUndefined();
    });

    it("takes whole minutes from 5 to 10080 in per-user mode on kubernetes, docker and aci", () => {
        expect(parseFleetConfig({ ...perUser, idleSuspendMinutes: "30" }).idleSuspendMinutes).toBe(30);
        expect(parseFleetConfig({ ...perUser, idleSuspendMinutes: "5" }).idleSuspendMinutes).toBe(5);
        expect(parseFleetConfig({ ...perUser, idleSuspendMinutes: "10080" }).idleSuspendMinutes).toBe(10080);
        expect(parseFleetConfig({ ...perUser, platform: "docker", image: undefined, idleSuspendMinutes: "15" }).idleSuspendMinutes).toBe(15);
    });

    it.each(["0", "4", "10081", "2.5", "", "soon", "-30"])("refuses %j, naming the key, the value and what is accepted", (v) => {
        expect(messages({ ...perUser, idleSuspendMinutes: v })).toEqual([`idleSuspendMinutes: ${JSON.stringify(v)} is not accepted; use an integer from 5 to 10080`]);
    });

    it("is accepted on ACI in per-user mode, and refused there in shared mode", () => {
        const aci: RawConfig = { ...perUser, platform: "aci", image: "myregistry.azurecr.io/copilot-cli:1.0.102", idleSuspendMinutes: "30" };
        expect(parseFleetConfig(aci).idleSuspendMinutes).toBe(30);
        expect(messages({ ...aci, mode: "shared", users: undefined })).toEqual([
            'idleSuspendMinutes: "30" is set, but mode is "shared"; idle suspend stops one user\'s own server, so it applies to mode "per-user" only; remove the key',
        ]);
    });

    it("is refused in shared mode, where no server belongs to one user", () => {
        const shared: RawConfig = { platform: "kubernetes", githubToken: "gho_service", image: "registry.example.com/copilot-cli:1.0.102", idleSuspendMinutes: "30" };
        expect(messages(shared)).toEqual([
            'idleSuspendMinutes: "30" is set, but mode is "shared"; idle suspend stops one user\'s own server, so it applies to mode "per-user" only; remove the key',
        ]);
    });
});
