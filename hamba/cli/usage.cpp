// The usage text (no argument, --help): every form of the command line and every option.
#include "cli/command.h"
#include "cli/option_table.h"

#include <fmt/format.h>

namespace hamba::cli {

namespace {

// "  --connect-timeout D   HAMBA_CONNECT_TIMEOUT   server connect timeout (default 5s)", one
// line per option of the table (and its continuation lines).
std::string option_lines() {
  std::string out;
  for (const OptionSpec& o : option_table()) {
    std::string variables = o.alias ? fmt::format("{}, {}", o.alias, o.env) : o.env;
    std::string help = o.help;
    for (size_t at = help.find('\n'); at != std::string::npos; at = help.find('\n', at + 1))
      help.insert(at + 1, std::string(48, ' '));
    std::string flag = *o.value ? fmt::format("{} {}", o.flag, o.value) : std::string(o.flag);
    if (flag.size() > 21 || variables.size() > 23) // too long for its column: help goes below
      out += fmt::format("  {}  {}\n{:48}{}\n", flag, variables, "", help);
    else
      out += fmt::format("  {:<21} {:<23} {}\n", flag, variables, help);
  }
  return out;
}

} // namespace

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
  hamba weight HOST:PORT N                 change one server's weight (1-256) in the running hamba

CONFIG is `[ADDR:]PORT SERVER...` or `--config FILE.yaml`. A SERVER is HOST:PORT or two words
HOST PORT (forms may be mixed); IPv6 addresses go in brackets: [::1]:6379. A server name is
resolved again and again, and connections are balanced over every address it resolves to.

Options (each also read from the environment variable shown; the option wins):
)" + option_lines() +
         R"(  -h, --help                                    print this help
  -V, --version                                 print the version
Durations: 250ms, 5s, 2m, 1h (a bare number is milliseconds).

Exit status: 0 success, 1 run-time error (address in use, ...), 2 bad command line.
)";
}

} // namespace hamba::cli
