// The usage text (no argument, --help): every form of the command line and every option.
#include "cli/command.h"

namespace hamba::cli {

std::string usage_text() {
  return R"(hamba: a small, fast TCP load balancer and ambassador.

Usage:
  hamba [OPTIONS] [ADDR:]PORT SERVER...    listen on PORT (all addresses, or ADDR only) and
                                           balance connections over the servers
  hamba run [CONFIG...]                    the same; with no CONFIG start empty and wait for
                                           `hamba reconfigure`
  hamba reconfigure CONFIG...              hand a new configuration to the running hamba
                                           (established connections finish on their server)
  hamba debugconfig CONFIG...              print the configuration CONFIG means (YAML), run nothing
  hamba showconfig                         print the running hamba's configuration
  hamba status                             one line of the running hamba's state; exit status
                                           0 while it serves (a container health check)
  hamba enable|disable|drain HOST:PORT     change one server's state in the running hamba

CONFIG is `[ADDR:]PORT SERVER...` or `--config FILE.yaml`. A SERVER is HOST:PORT or two words
HOST PORT (forms may be mixed); IPv6 addresses go in brackets: [::1]:6379. A server name is
resolved again and again, and connections are balanced over every address it resolves to.

Options (each also read from the environment variable shown; the option wins):
  --connect-timeout D   HAMBA_CONNECT_TIMEOUT   server connect timeout (default 5s)
  --idle-timeout D      HAMBA_IDLE_TIMEOUT      close connections idle that long (default 50s)
  --check-interval D    HAMBA_CHECK_INTERVAL    health check (TCP connect) interval (default 2s)
  --resolve-interval D  HAMBA_RESOLVE_INTERVAL  server names resolved again (default 5s)
  --dns-hold D          HAMBA_DNS_HOLD          a name gone from DNS keeps its servers that long
                                                (default 30s; resolver failures keep them always)
  --maxconn N           HAMBA_MAXCONN           connections in all; more wait to be accepted
                                                (default: from the file-descriptor limit)
  --server-maxconn N    HAMBA_SERVER_MAXCONN    connections per server; more are queued
                                                (default: no limit)
  --threads N           HAMBA_THREADS           worker loops (default: the CPUs it may use)
  --balance ALGO        HAMBA_BALANCE           roundrobin (default) or leastconn
  --retries N           HAMBA_RETRIES           other servers tried when a connect fails (3)
  --grace D             HAMBA_GRACE             on SIGTERM, time given to connections (5s)
  --admin ADDR:PORT     ADMIN, HAMBA_ADMIN      serve the stats page and /metrics there
  --control PATH        HAMBA_CONTROL           control socket of the running hamba
  --config FILE         HAMBA_CONFIG            read the configuration from a YAML file
  --log-connections F   HAMBA_LOG_CONNECTIONS   one log line per connection: text, json or off
  --send-proxy V        HAMBA_SEND_PROXY        PROXY protocol header to servers: v1 or v2
  --accept-proxy        HAMBA_ACCEPT_PROXY      clients start with a PROXY v1/v2 header (true)
  -h, --help                                    print this help
  -V, --version                                 print the version
Durations: 250ms, 5s, 2m, 1h (a bare number is milliseconds).

Exit status: 0 success, 1 run-time error (address in use, ...), 2 bad command line.
)";
}

} // namespace hamba::cli
