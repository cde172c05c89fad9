// Who gets in: the decision taken for each client at accept (before any byte is read) and, with
// accept_proxy, again for the address its PROXY header carries. Pure functions over the
// frontend's configuration and an address, so that the unit tests drive them alone:
//
//     AcceptVerdict v = admit_at_accept(cfg, peer);   // the socket's own peer
//     if (v.refusal) refuse with a reset;              // deny list, not allowed, untrusted sender
//     else if (v.read_header) read the PROXY header, then check_lists(cfg, carried source)
//
// The rules, in order: with accept_proxy and `from`, a peer outside `from` is refused
// (untrusted_proxy), or with `optional` served with its own address; a peer whose header is
// read is judged by the address the header carries. Then the deny list (a match is refused),
// then the allow list (when it is given, an address outside it is refused).
#pragma once

#include "base/cidr.h"
#include "config/config.h"
#include "engine/source_table.h"

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <sys/socket.h>

namespace hamba::engine {

// Why a client was refused: the label of hamba_frontend_denied_connections_total, in this order.
enum class Refusal : uint8_t {
  deny_list,       // its address is in deny or deny_file
  not_allowed,     // allow lists are given and its address is in none of them
  untrusted_proxy, // accept_proxy from: the peer is not a trusted PROXY sender
  source_maxconn,  // per_source maxconn: it has that many connections open
  source_rate,     // per_source rate: it opened that many within the window
};
constexpr size_t kRefusalReasons = 5;
constexpr const char* kRefusalNames[kRefusalReasons] = {
    "deny_list", "not_allowed", "untrusted_proxy", "source_maxconn", "source_rate"};
inline const char* refusal_name(Refusal r) {
  return kRefusalNames[static_cast<size_t>(r)];
}
// What the log line says after "refused client 10.1.2.3: ".
const char* refusal_phrase(Refusal r);

// The allow and deny lists for `address` (nullopt: it may come in).
std::optional<Refusal> check_lists(const config::Frontend& f, const Address128& address);

struct AcceptVerdict {
  std::optional<Refusal> refusal;
  bool read_header = false; // a PROXY header is read, and the lists apply to what it carries
};
// At accept, for the socket's own peer (AF_UNSPEC when unknown: matched by no list).
AcceptVerdict admit_at_accept(const config::Frontend& f, const sockaddr* peer);

// per_source's limits as the table takes them.
SourceTable::Limits limits_of(const config::PerSource& p);

// At most one log line per source per kRefusalLogMs, across every worker, in fixed memory: a
// source's line is due when the time stored in its slot (by address hash) is that old. Two
// sources sharing a slot only log less, never more. Lock-free (a compare-and-swap a line).
constexpr uint64_t kRefusalLogMs = 10'000;
class RefusalLog {
public:
  // True when a line about `source` may be written now (and records that it was).
  bool due(const Address128& source, uint64_t now_ms);

private:
  static constexpr size_t kSlots = 4096;
  std::array<std::atomic<uint64_t>, kSlots> logged_at_{}; // now_ms + 1 of the last line; 0: none
};

} // namespace hamba::engine
