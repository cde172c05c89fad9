// Flag and environment parsing for the DockerCoins services (see flags.h).
#include "common/flags.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <fmt/format.h>

namespace services {

namespace {
bool truthy(std::string_view v) {
  std::string s(v);
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s == "y" || s == "yes" || s == "1" || s == "true" || s == "on";
}
} // namespace

Flags::Flags(std::string program, std::string summary)
    : program_(std::move(program)), summary_(std::move(summary)) {}

void Flags::add(std::string name, std::string default_value, std::string help) {
  flags_.push_back({std::move(name), default_value, default_value, std::move(help), false, false});
}

void Flags::add_switch(std::string name, std::string help) {
  flags_.push_back({std::move(name), "", "", std::move(help), true, false});
}

std::string Flags::env_name(std::string_view flag_name) {
  std::string env;
  for (char c : flag_name)
    env += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return env;
}

Flags::Flag* Flags::find(std::string_view name) {
  for (auto& f : flags_)
    if (f.name == name)
      return &f;
  return nullptr;
}

const Flags::Flag& Flags::at(std::string_view name) const {
  for (const auto& f : flags_)
    if (f.name == name)
      return f;
  throw std::logic_error(fmt::format("flag --{} was never declared", name));
}

bool Flags::parse(const std::vector<std::string>& args, const Getenv& getenv) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view word = args[i];
    if (word == "--help" || word == "-h")
      return false;
    if (!word.starts_with("--"))
      throw UsageError(fmt::format("{}: unexpected argument '{}' (see --help)", program_, word));
    std::string_view name = word.substr(2);
    std::optional<std::string> value;
    if (auto eq = name.find('='); eq != std::string_view::npos) {
      value = std::string(name.substr(eq + 1));
      name = name.substr(0, eq);
    }
    Flag* flag = find(name);
    if (!flag)
      throw UsageError(fmt::format("{}: unknown flag '--{}' (see --help)", program_, name));
    if (flag->is_switch) {
      if (value)
        throw UsageError(fmt::format("{}: '--{}' takes no value", program_, name));
      flag->value = "y";
    } else if (value) {
      flag->value = *value;
    } else if (i + 1 < args.size()) {
      flag->value = args[++i];
    } else {
      throw UsageError(fmt::format("{}: '--{}' needs a value", program_, name));
    }
    flag->given = true;
  }
  for (auto& f : flags_) {
    if (f.given)
      continue;
    if (const char* v = getenv(env_name(f.name).c_str()); v && *v)
      f.value = f.is_switch ? (truthy(v) ? "y" : "") : v;
  }
  return true;
}

void Flags::parse_or_exit(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (!parse(args, [](const char* name) { return std::getenv(name); })) {
      fmt::print("{}", usage());
      std::exit(0);
    }
  } catch (const UsageError& e) {
    fmt::print(stderr, "{}\n", e.what());
    std::exit(2);
  }
}

const std::string& Flags::get(std::string_view name) const {
  return at(name).value;
}

bool Flags::on(std::string_view name) const {
  return truthy(at(name).value);
}

hamba::Endpoint Flags::host_port(std::string_view name) const {
  const Flag& f = at(name);
  try {
    return hamba::parse_endpoint(f.value, 0);
  } catch (const hamba::EndpointError&) {
    throw UsageError(fmt::format("{}: --{} (or {}): '{}' is not HOST:PORT", program_, name,
                                 env_name(name), f.value));
  }
}

std::uint64_t Flags::number(std::string_view name, std::uint64_t min, std::uint64_t max) const {
  const Flag& f = at(name);
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(f.value.data(), f.value.data() + f.value.size(), n);
  if (f.value.empty() || ec != std::errc() || end != f.value.data() + f.value.size() || n < min ||
      n > max)
    throw UsageError(fmt::format("{}: --{} (or {}): '{}' is not a number from {} to {}", program_,
                                 name, env_name(name), f.value, min, max));
  return n;
}

std::string Flags::usage() const {
  std::string out = fmt::format("Usage: {} [--flag VALUE]...\n{}\n\nFlags (each also from the "
                                "environment variable shown):\n",
                                program_, summary_);
  for (const auto& f : flags_) {
    std::string left = f.is_switch ? fmt::format("--{}", f.name) : fmt::format("--{} V", f.name);
    std::string def = f.default_value.empty() ? "" : fmt::format(" (default {})", f.default_value);
    out += fmt::format("  {:<22} {:<13} {}{}\n", left, env_name(f.name), f.help, def);
  }
  out += "  --help                 print this\n";
  return out;
}

} // namespace services
