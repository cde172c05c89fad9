// The admission fields' words, files, checks and printing; see admission.h.
#include "config/admission.h"

#include "config/config.h"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fmt/format.h>
#include <fstream>
#include <sstream>
#include <yaml-cpp/yaml.h>

namespace hamba::config {

namespace {

// A list file larger than this is refused: it is read whole, on a reload's thread.
constexpr size_t kMaxListFileBytes = 64 * 1024 * 1024;

std::vector<Cidr> read_list_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw ConfigError(fmt::format("{}: cannot read: {}", path, std::strerror(errno)));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad())
    throw ConfigError(fmt::format("{}: cannot read: {}", path, std::strerror(errno)));
  if (text.str().size() > kMaxListFileBytes)
    throw ConfigError(fmt::format("{}: larger than {} MiB", path, kMaxListFileBytes >> 20));
  try {
    return parse_cidr_list(text.str());
  } catch (const CidrListError& e) {
    throw ConfigError(fmt::format("{}:{}:{}: {}", path, e.line, e.column, e.what()));
  }
}

void load(CidrList& list) {
  if (!list.given()) {
    list.set.reset();
    return;
  }
  std::vector<Cidr> all = list.cidrs;
  if (!list.file.empty()) {
    std::vector<Cidr> more = read_list_file(list.file);
    all.insert(all.end(), more.begin(), more.end());
  }
  list.set = std::make_shared<const CidrSet>(all);
}

void emit_cidrs(YAML::Emitter& out, const std::vector<Cidr>& cidrs) {
  out << YAML::Flow << YAML::BeginSeq;
  for (const Cidr& c : cidrs)
    out << YAML::DoubleQuoted << format_cidr(c);
  out << YAML::EndSeq;
}

} // namespace

bool CidrList::operator==(const CidrList& other) const {
  if (cidrs != other.cidrs || file != other.file)
    return false;
  if (set == other.set)
    return true;
  const CidrSet none;
  return (set ? *set : none) == (other.set ? *other.set : none);
}

void parse_rate(const std::string& text, int& count, std::chrono::milliseconds& window) {
  const size_t slash = text.find('/');
  const std::string number = text.substr(0, slash);
  int n = 0;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), n);
  if (slash == std::string::npos || number.empty() || ec != std::errc{} ||
      end != number.data() + number.size() || n < 1)
    throw ConfigError(fmt::format(
        "rate \"{}\" is not a count and a window (write 20/1s: 20 new connections a second)",
        text));
  std::chrono::milliseconds w;
  try {
    w = parse_duration(text.substr(slash + 1));
  } catch (const ConfigError&) {
    throw ConfigError(
        fmt::format("rate \"{}\": the window is not a duration (write 20/1s, 100/10s)", text));
  }
  if (w.count() < 1 || w > std::chrono::hours(24))
    throw ConfigError(fmt::format("rate \"{}\": the window must be from 1ms to 24h", text));
  count = n;
  window = w;
}

std::string format_rate(int count, std::chrono::milliseconds window) {
  return fmt::format("{}/{}", count, format_duration(window));
}

Cidr parse_cidr_word(const std::string& text) {
  std::string why;
  std::optional<Cidr> c = parse_cidr(text, &why);
  if (!c)
    throw ConfigError(why);
  return *c;
}

const char* over_limit_name(OverLimit a) {
  return a == OverLimit::tarpit ? "tarpit" : "reject";
}

void load_cidr_files(Frontend& f) {
  load(f.allow);
  load(f.deny);
  load(f.proxy_from);
}

void load_cidr_files(Config& config) {
  for (Frontend& f : config.frontends)
    load_cidr_files(f);
}

void validate_admission(const Frontend& f, const std::string& where) {
  if (!f.proxy_from.file.empty())
    throw ConfigError(fmt::format("{}: accept_proxy from takes CIDRs, not a file", where));
  if (!f.accept_proxy && (!f.proxy_from.cidrs.empty() || f.proxy_optional))
    throw ConfigError(
        fmt::format("{}: accept_proxy from and optional need accept_proxy turned on", where));
  if (f.proxy_optional && f.proxy_from.cidrs.empty())
    throw ConfigError(fmt::format(
        "{}: accept_proxy optional needs `from` (the senders trusted with a header)", where));
  const PerSource& p = f.per_source;
  if (p.maxconn && (*p.maxconn < 1 || *p.maxconn > (1 << 20)))
    throw ConfigError(fmt::format("{}: per_source maxconn {} must be between 1 and {}", where,
                                  *p.maxconn, 1 << 20));
  if (p.rate_count < 0 || p.rate_window.count() < 1)
    throw ConfigError(fmt::format("{}: per_source rate must be a count and a window", where));
  if (p.ipv6_prefix < 1 || p.ipv6_prefix > 128)
    throw ConfigError(fmt::format("{}: per_source ipv6_prefix {} must be between 1 and 128", where,
                                  p.ipv6_prefix));
  if (p.table_size < 1 || p.table_size > 10'000'000)
    throw ConfigError(fmt::format("{}: per_source table_size {} must be between 1 and 10000000",
                                  where, p.table_size));
  if (p.tarpit_delay.count() < 1)
    throw ConfigError(fmt::format("{}: per_source tarpit_delay must be positive", where));
}

void emit_admission(YAML::Emitter& out, const Frontend& f) {
  if (!f.allow.cidrs.empty()) {
    out << YAML::Key << "allow" << YAML::Value;
    emit_cidrs(out, f.allow.cidrs);
  }
  if (!f.allow.file.empty())
    out << YAML::Key << "allow_file" << YAML::Value << YAML::DoubleQuoted << f.allow.file;
  if (!f.deny.cidrs.empty()) {
    out << YAML::Key << "deny" << YAML::Value;
    emit_cidrs(out, f.deny.cidrs);
  }
  if (!f.deny.file.empty())
    out << YAML::Key << "deny_file" << YAML::Value << YAML::DoubleQuoted << f.deny.file;
  if (const PerSource& p = f.per_source; p.enabled()) {
    out << YAML::Key << "per_source" << YAML::Value << YAML::Flow << YAML::BeginMap;
    if (p.maxconn)
      out << YAML::Key << "maxconn" << YAML::Value << *p.maxconn;
    if (p.rate_count > 0)
      out << YAML::Key << "rate" << YAML::Value << YAML::DoubleQuoted
          << format_rate(p.rate_count, p.rate_window);
    out << YAML::Key << "ipv6_prefix" << YAML::Value << p.ipv6_prefix;
    out << YAML::Key << "table_size" << YAML::Value << p.table_size;
    out << YAML::Key << "action" << YAML::Value << over_limit_name(p.action);
    if (p.action == OverLimit::tarpit)
      out << YAML::Key << "tarpit_delay" << YAML::Value << format_duration(p.tarpit_delay);
    out << YAML::EndMap;
  }
}

} // namespace hamba::config
