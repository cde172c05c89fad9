// Command-line flags that can also come from the environment, for every DockerCoins service:
// `--delay-ms 50`, `--delay-ms=50` or `DELAY_MS=50` (flag name upper-cased, '-' -> '_'). A flag
// given on the command line wins over the environment, which wins over the default.
//
//     services::Flags flags("rng", "Serves random bytes over HTTP.");
//     flags.add("listen", "0.0.0.0:80", "ADDR:PORT to listen on");
//     flags.add("delay-ms", "100", "simulated work per request, in milliseconds");
//     flags.parse_or_exit(argc, argv);          // --help prints usage; bad words exit 2
//     auto listen = flags.host_port("listen");  // throws UsageError naming the flag
#pragma once

#include "base/endpoint.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace services {

// A bad command line or environment value; what() is the one line to print before exiting 2.
class UsageError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

class Flags {
public:
  using Getenv = std::function<const char*(const char*)>;

  Flags(std::string program, std::string summary);

  // Declares `--name VALUE`, read from the environment variable env_name(name) when not given.
  void add(std::string name, std::string default_value, std::string help);
  // Declares a switch `--name` (value "y" when present); environment values y/yes/1/true/on.
  void add_switch(std::string name, std::string help);

  // Parses the words after the program name, then the environment. Returns false when --help was
  // asked for. Throws UsageError naming the bad word.
  bool parse(const std::vector<std::string>& args, const Getenv& getenv);
  // parse() on argv and the real environment; prints usage and exits 0 on --help, prints the
  // error and exits 2 on a bad word.
  void parse_or_exit(int argc, char** argv);

  const std::string& get(std::string_view name) const;
  bool on(std::string_view name) const; // a switch, or a flag whose value is y/yes/1/true/on
  // Typed values; throw UsageError ("--delay-ms: 'abc' is not a number from 0 to 60000").
  hamba::Endpoint host_port(std::string_view name) const;
  std::uint64_t number(std::string_view name, std::uint64_t min, std::uint64_t max) const;

  std::string usage() const;
  static std::string env_name(std::string_view flag_name); // "delay-ms" -> "DELAY_MS"

private:
  struct Flag {
    std::string name;
    std::string value;
    std::string default_value;
    std::string help;
    bool is_switch = false;
    bool given = false;
  };
  Flag* find(std::string_view name);
  const Flag& at(std::string_view name) const;

  std::string program_;
  std::string summary_;
  std::vector<Flag> flags_;
};

} // namespace services
