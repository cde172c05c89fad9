// Who gets in, per frontend: the allow and deny lists, the trusted PROXY senders and the
// per-source limits, as plain data (the model of config.h), with their own YAML words:
//
//   allow: ["10.0.0.0/8", "2001:db8::/32"]   # only these (with allow_file's); none: everyone
//   deny: ["10.9.0.0/16"]                    # never these; deny wins over allow
//   allow_file: /etc/hamba/allow.lst         # one CIDR a line, `#` comments; read again on
//   deny_file: /etc/hamba/deny.lst           #   every reload (SIGHUP, reconfigure)
//   accept_proxy: {from: ["10.1.0.0/16"], optional: false}
//                           # a PROXY header is read only from `from`; others are refused, or
//                           # with optional: true served with their own address. The lists and
//                           # limits then apply to the address the header carries.
//   per_source: {maxconn: 10, rate: "20/1s", ipv6_prefix: 64, table_size: 100000,
//                action: reject}   # or tarpit: held for tarpit_delay, then closed
//
// IPv4, IPv6, and v4-mapped IPv6 written as IPv4 (base/cidr.h). A list's compiled set (what it
// says and what its file said when the configuration was loaded) is part of the model, so a
// reload whose file changed is a changed configuration, and workers share the set read-only.
#pragma once

#include "base/cidr.h"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace YAML {
class Emitter;
}

namespace hamba::config {

struct Frontend;
struct Config;
using hamba::Address128;
using hamba::Cidr;
using hamba::CidrSet;

// CIDRs written in the configuration, and a file of more.
struct CidrList {
  std::vector<Cidr> cidrs;
  std::string file; // absolute path; "" for none
  // Both, merged: built by load_cidr_files() (nullptr before, or when both are empty).
  std::shared_ptr<const CidrSet> set;
  bool given() const { return !cidrs.empty() || !file.empty(); }
  bool contains(const Address128& a) const { return set && set->contains(a); }
  // The CIDRs, the file's name and what the file held when it was read.
  bool operator==(const CidrList& other) const;
};

// What a source over its per_source limit gets.
enum class OverLimit { reject, tarpit };

struct PerSource {
  std::optional<int> maxconn; // connections open at once, per source; unset: no limit
  int rate_count = 0;         // new connections per rate_window; 0: no limit
  std::chrono::milliseconds rate_window{1000};
  int ipv6_prefix = 64;    // IPv6 sources with the same first bits count as one (1-128)
  int table_size = 100000; // sources remembered; the least recently seen goes first
  OverLimit action = OverLimit::reject;
  std::chrono::milliseconds tarpit_delay{5000}; // tarpit: how long it is held before its close
  bool enabled() const { return maxconn.has_value() || rate_count > 0; }
  bool operator==(const PerSource&) const = default;
};

// "20/1s", "100/10s", "5/250ms": a count and a window. Throws ConfigError naming `text`.
void parse_rate(const std::string& text, int& count, std::chrono::milliseconds& window);
std::string format_rate(int count, std::chrono::milliseconds window);
// "10.0.0.0/8" and the other forms of base/cidr.h. Throws ConfigError naming `text`.
Cidr parse_cidr_word(const std::string& text);
const char* over_limit_name(OverLimit a);

// Reads every allow_file and deny_file of `config` and builds each list's set. Throws
// ConfigError "FILE:LINE:COL: ..." for a bad line, "FILE: cannot read: ..." for a missing file.
void load_cidr_files(Config& config);
void load_cidr_files(Frontend& frontend);

// The checks of validate() for these fields; throws ConfigError prefixed with `where`.
void validate_admission(const Frontend& f, const std::string& where);
// The fields' YAML, inside the frontend's map (to_yaml()).
void emit_admission(YAML::Emitter& out, const Frontend& f);

} // namespace hamba::config
