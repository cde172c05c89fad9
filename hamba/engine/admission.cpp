// The admission decisions; see admission.h.
#include "engine/admission.h"

namespace hamba::engine {

const char* refusal_phrase(Refusal r) {
  switch (r) {
  case Refusal::deny_list:
    return "in the deny list";
  case Refusal::not_allowed:
    return "not in the allow list";
  case Refusal::untrusted_proxy:
    return "not a trusted PROXY sender (accept_proxy from)";
  case Refusal::source_maxconn:
    return "over per_source maxconn";
  case Refusal::source_rate:
    return "over per_source rate";
  }
  return "refused";
}

std::optional<Refusal> check_lists(const config::Frontend& f, const Address128& address) {
  if (f.deny.contains(address))
    return Refusal::deny_list;
  if (f.allow.given() && !f.allow.contains(address))
    return Refusal::not_allowed;
  return std::nullopt;
}

AcceptVerdict admit_at_accept(const config::Frontend& f, const sockaddr* peer) {
  AcceptVerdict v;
  const std::optional<Address128> address = address_of(peer);
  if (f.accept_proxy) {
    const bool trusted = !f.proxy_from.given() || (address && f.proxy_from.contains(*address));
    if (trusted) {
      v.read_header = true; // judged by the address its header carries
      return v;
    }
    if (!f.proxy_optional) {
      v.refusal = Refusal::untrusted_proxy;
      return v;
    }
  }
  if (!f.allow.given() && !f.deny.given())
    return v;
  if (!address) { // no address to match: only a frontend without an allow list takes it
    if (f.allow.given())
      v.refusal = Refusal::not_allowed;
    return v;
  }
  v.refusal = check_lists(f, *address);
  return v;
}

SourceTable::Limits limits_of(const config::PerSource& p) {
  SourceTable::Limits l;
  l.maxconn = p.maxconn ? static_cast<uint32_t>(*p.maxconn) : 0;
  l.rate = static_cast<uint32_t>(p.rate_count);
  l.window_ms = static_cast<uint64_t>(p.rate_window.count());
  return l;
}

bool RefusalLog::due(const Address128& source, uint64_t now_ms) {
  uint64_t h = source.hi * 0x9e3779b97f4a7c15ULL ^ source.lo * 0xc2b2ae3d27d4eb4fULL;
  h ^= h >> 29;
  std::atomic<uint64_t>& slot = logged_at_[h % kSlots];
  uint64_t last = slot.load(std::memory_order_relaxed);
  // (Workers' loop times differ by a little: a slot written by one a moment "ahead" is recent.)
  if (last != 0 && now_ms + 1 < last + kRefusalLogMs)
    return false;
  return slot.compare_exchange_strong(last, now_ms + 1, std::memory_order_relaxed);
}

} // namespace hamba::engine
