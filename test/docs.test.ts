/**
 * The docs stay navigable: every relative link in README.md and docs/*.md names a file that exists,
 * and every `#anchor` names a heading of its target (GitHub's heading ids), so moving a section
 * cannot leave a dead link behind.
 */
import { existsSync, readdirSync, readFileSync } from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";

const ROOT = path.join(__dirname, "..");

/** Pages another branch adds; checked like any other once they exist. */
const PENDING = new Set(["docs/library.md"]);

/** Markdown outside fenced code blocks and inline code spans. */
function prose(markdown: string): string {
    let fenced = false;
    return markdown
        .split("\n")
        .filter((line) => {
            if (/^\s*(```|~~~)/.test(line)) {
                fenced = !fenced;
                return false;
            }
            return !fenced;
        })
        .map((line) => line.replace(/`[^`]*`/g, (code) => code.replace(/[[\]()]/g, " ")))
        .join("\n");
}

/** GitHub's id for a heading: lowercase, punctuation dropped, spaces to hyphens, repeats numbered. */
function headingIds(markdown: string): Set<string> {
    const ids = new Set<string>();
    const seen = new Map<string, number>();
    let fenced = false;
    for (const line of markdown.split("\n")) {
        if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
        const m = !fenced && /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
        if (!m) continue;
        const text = m[1].replace(/\[([^\]]*)\]\([^)]*\)/g, "$1").replace(/[*_`]/g, (c) => (c === "_" ? "_" : ""));
        const base = text.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
        const n = seen.get(base) ?? 0;
        seen.set(base, n + 1);
        ids.add(n === 0 ? base : `${base}-${n}`);
    }
    return ids;
}

/** Every `[text](target)` link outside code. */
function links(markdown: string): string[] {
    return [...prose(markdown).matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]);
}

const pages = ["README.md", ...readdirSync(path.join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];

describe("relative links in README.md and docs/", () => {
    it.each(pages)("%s: every relative link and anchor resolves", (page) => {
        const text = readFileSync(path.join(ROOT, page), "utf8");
        const broken: string[] = [];
        for (const link of links(text)) {
            if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // https:, mailto:
            const [file, anchor] = link.split("#", 2);
            const target = file === "" ? page : path.posix.normalize(path.posix.join(path.posix.dirname(page), decodeURI(file)));
            if (PENDING.has(target) && !existsSync(path.join(ROOT, target))) continue;
            if (!existsSync(path.join(ROOT, target))) {
                broken.push(`${link}: no file ${target}`);
                continue;
            }
            if (anchor !== undefined && !headingIds(readFileSync(path.join(ROOT, target), "utf8")).has(anchor)) {
                broken.push(`${link}: ${target} has no heading #${anchor}`);
            }
        }
        expect(broken).toEqual([]);
    });

    it("README links every docs page", () => {
        const linked = new Set(links(readFileSync(path.join(ROOT, "README.md"), "utf8")).map((l) => l.split("#")[0]));
        for (const page of pages.filter((p) => p !== "README.md")) expect(linked).toContain(page);
        for (const page of PENDING) expect(linked).toContain(page);
    });

    it("README stays under 250 lines", () => {
        expect(readFileSync(path.join(ROOT, "README.md"), "utf8").split("\n").length).toBeLessThan(250);
    });
});

describe("the checker can fail", () => {
    it("finds GitHub's heading ids", () => {
        const ids = headingIds("# A\n## Per-user mode (Kubernetes)\n```\n# not a heading\n```\n### CI/CD workflows (`.github/workflows/`)\n## A\n");
        expect([...ids]).toEqual(["a", "per-user-mode-kubernetes", "cicd-workflows-githubworkflows", "a-1"]);
    });
    it("finds links outside code only", () => {
        expect(links("see [x](docs/a.md#b) and `[y](nope.md)`\n```\n[z](nope.md)\n```\n[w](https://e.x)")).toEqual(["docs/a.md#b", "https://e.x"]);
    });
});
