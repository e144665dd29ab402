/*
 * copilot-nodump.so, loaded through LD_PRELOAD into every process the container starts (tini, the
 * CLI, exec probes): marks the process non-dumpable before main() runs. The kernel then gives its
 * /proc/<pid>/{environ,mem,maps,fd,...} to root and refuses ptrace, so a tool the agent runs under
 * the same uid can no longer read COPILOT_CONNECTION_TOKEN or COPILOT_GITHUB_TOKEN out of the
 * server's environment (measured: readable without it, "Permission denied" with it).
 *
 * The CLI itself drops LD_PRELOAD from its environment, so the tools it starts do not inherit the
 * library; everything in between (tini, the copilot-fleet-server wrapper) keeps it, because the
 * setting must reach the CLI's own exec. No effect for root, whose CAP_SYS_PTRACE ignores it.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

__attribute__((constructor)) static void copilot_nodump(void) {
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return;
    exe[n] = '\0';
    const char *base = strrchr(exe, '/');
    base = base ? base + 1 : exe;
    if (strcmp(base, "copilot") == 0) unsetenv("LD_PRELOAD");
}
