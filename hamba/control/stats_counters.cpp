// The table of counters the admin endpoints show (see stats_counters.h).
#include "control/stats_counters.h"

#include "balance/server.h"
#include "base/descriptors.h"
#include "engine/frontend.h"

#include <algorithm>
#include <string_view>

namespace hamba::control {
namespace {

// A field of engine::FrontendCounters (`field`) and the FrontendStats member that keeps its copy
// (`copy`): the row's live, read and write accessors, and `counted`.
#define HAMBA_FRONTEND_FIELD(field, copy)                                                          \
  [](const engine::FrontendCounters& c) -> uint64_t {                                              \
    return c.field.load(std::memory_order_relaxed);                                                \
  },                                                                                               \
      [](const FrontendStats& s) -> uint64_t { return s.copy; },                                   \
      [](FrontendStats& s, uint64_t v) { s.copy = v; }, true

// The same for a balance::Server: `value` is an expression of `s` (the server), `copy` the
// ServerStats member, `counted` whether `value` is a field of its ServerCounters.
#define HAMBA_SERVER_VALUE(value, copy, counted)                                                   \
  [](const balance::Server& s) -> uint64_t { return static_cast<uint64_t>(value); },               \
      [](const ServerStats& s) -> uint64_t { return static_cast<uint64_t>(s.copy); },              \
      [](ServerStats& s, uint64_t v) { s.copy = static_cast<decltype(s.copy)>(v); }, counted
#define HAMBA_SERVER_FIELD(field)                                                                  \
  HAMBA_SERVER_VALUE(s.counters.field.load(std::memory_order_relaxed), field, true)

constexpr const char* kAcceptErrorsHelp =
    "Accepts that failed, by reason: hamba out of descriptors (emfile, enfile) or memory "
    "(enobufs, enomem), or another error.";

constexpr const char* kTlsHandshakeErrorsHelp =
    "TLS handshakes with clients that failed (tls), by reason: a version below the floor or not "
    "TLS (version), nothing in common (cipher), the client's certificate (certificate), another "
    "protocol error (protocol), not done in time (timeout), the client left (closed).";
constexpr const char* kRefusedHelp =
    "Clients refused at accept (or after their PROXY header), by reason: the deny list, not in "
    "the allow list, an untrusted PROXY sender, per-source maxconn or rate.";

constexpr FrontendCounterRow kFrontendRows[] = {
    {"current", "hamba_frontend_current_connections", nullptr, MetricType::gauge,
     "Client connections open now.", "current", Shown::number, nullptr,
     HAMBA_FRONTEND_FIELD(current, current)},
    {"total", "hamba_frontend_connections_total", nullptr, MetricType::counter,
     "Client connections accepted.", "total", Shown::number, nullptr,
     HAMBA_FRONTEND_FIELD(total, total)},
    {"bytes_in", "hamba_frontend_bytes_in_total", nullptr, MetricType::counter,
     "Bytes received from clients (and sent on to servers).", "bytes in", Shown::bytes, nullptr,
     HAMBA_FRONTEND_FIELD(bytes_in, bytes_in)},
    {"bytes_out", "hamba_frontend_bytes_out_total", nullptr, MetricType::counter,
     "Bytes sent to clients (received from servers).", "bytes out", Shown::bytes, nullptr,
     HAMBA_FRONTEND_FIELD(bytes_out, bytes_out)},
    {"errors", "hamba_frontend_errors_total", nullptr, MetricType::counter,
     "Client connections closed because no server could take them.", "errors", Shown::number,
     nullptr, HAMBA_FRONTEND_FIELD(failed, errors)},
    {"timeouts", "hamba_frontend_timeouts_total", nullptr, MetricType::counter,
     "Client connections closed by the idle or the queue timeout.", "timeouts", Shown::number,
     nullptr, HAMBA_FRONTEND_FIELD(timeouts, timeouts)},
    {"queued", "hamba_frontend_queued_connections", nullptr, MetricType::gauge,
     "Client connections waiting for a server with room.", "queued", Shown::number, nullptr,
     HAMBA_FRONTEND_FIELD(queued, queued)},
    {"proxy_header_errors", "hamba_frontend_proxy_header_errors_total", nullptr,
     MetricType::counter,
     "Client connections closed for a missing, malformed, oversized or late PROXY header "
     "(accept_proxy).",
     "PROXY header errors", Shown::number, nullptr,
     HAMBA_FRONTEND_FIELD(proxy_header_errors, proxy_header_errors)},
    {"client_hello_errors", "hamba_frontend_client_hello_errors_total", nullptr,
     MetricType::counter,
     "Client connections closed for a first byte that is not TLS, or a malformed or late "
     "ClientHello (routes).",
     "ClientHello errors", Shown::number, nullptr,
     HAMBA_FRONTEND_FIELD(client_hello_errors, client_hello_errors)},
    {"abandoned", "hamba_frontend_queue_abandoned_total", nullptr, MetricType::counter,
     "Queued clients that left before a server had room.", "left the queue", Shown::number, nullptr,
     HAMBA_FRONTEND_FIELD(abandoned, abandoned)},
    // One family, one row per reason, in kLocalErrorReasons' order (checked below).
    {"accept_errors_emfile", "hamba_accept_errors_total", "reason=\"emfile\"", MetricType::counter,
     kAcceptErrorsHelp, "accept errors: emfile", Shown::number, nullptr,
     HAMBA_FRONTEND_FIELD(accept_errors[0], accept_errors[0])},
    {"accept_errors_enfile", "hamba_accept_errors_total", "reason=\"enfile\"", MetricType::counter,
     kAcceptErrorsHelp, "accept errors: enfile", Shown::number, nullptr,
     HAMBA_FRONTEND_FIELD(accept_errors[1], accept_errors[1])},
    {"accept_errors_enobufs", "hamba_accept_errors_total", "reason=\"enobufs\"",
     MetricType::counter, kAcceptErrorsHelp, "accept errors: enobufs", Shown::number, nullptr,
     HAMBA_FRONTEND_FIELD(accept_errors[2], accept_errors[2])},
    {"accept_errors_enomem", "hamba_accept_errors_total", "reason=\"enomem\"", MetricType::counter,
     kAcceptErrorsHelp, "accept errors: enomem", Shown::number, nullptr,
     HAMBA_FRONTEND_FIELD(accept_errors[3], accept_errors[3])},
    {"accept_errors_other", "hamba_accept_errors_total", "reason=\"other\"", MetricType::counter,
     kAcceptErrorsHelp, "accept errors: other", Shown::number, nullptr,
     HAMBA_FRONTEND_FIELD(accept_errors[4], accept_errors[4])},
    // One family, one row per reason, in net::TlsFailure's order.
    {"tls_handshake_errors_version", "hamba_frontend_tls_handshake_errors_total",
     "reason=\"version\"", MetricType::counter, kTlsHandshakeErrorsHelp,
     "TLS handshake errors: version", Shown::number, nullptr,
     HAMBA_FRONTEND_FIELD(tls_handshake_errors[0], tls_handshake_errors[0])},
    {"tls_handshake_errors_cipher", "hamba_frontend_tls_handshake_errors_total",
     "reason=\"cipher\"", MetricType::counter, kTlsHandshakeErrorsHelp,
     "TLS handshake errors: cipher", Shown::number, nullptr,
     HAMBA_FRONTEND_FIELD(tls_handshake_errors[1], tls_handshake_errors[1])},
    {"tls_handshake_errors_certificate", "hamba_frontend_tls_handshake_errors_total",
     "reason=\"certificate\"", MetricType::counter, kTlsHandshakeErrorsHelp,
     "TLS handshake errors: certificate", Shown::number, nullptr,
     HAMBA_FRONTEND_FIELD(tls_handshake_errors[2], tls_handshake_errors[2])},
    {"tls_handshake_errors_protocol", "hamba_frontend_tls_handshake_errors_total",
     "reason=\"protocol\"", MetricType::counter, kTlsHandshakeErrorsHelp,
     "TLS handshake errors: protocol", Shown::number, nullptr,
     HAMBA_FRONTEND_FIELD(tls_handshake_errors[3], tls_handshake_errors[3])},
    {"tls_handshake_errors_timeout", "hamba_frontend_tls_handshake_errors_total",
     "reason=\"timeout\"", MetricType::counter, kTlsHandshakeErrorsHelp,
     "TLS handshake errors: timeout", Shown::number, nullptr,
     HAMBA_FRONTEND_FIELD(tls_handshake_errors[4], tls_handshake_errors[4])},
    {"tls_handshake_errors_closed", "hamba_frontend_tls_handshake_errors_total",
     "reason=\"closed\"", MetricType::counter, kTlsHandshakeErrorsHelp,
     "TLS handshake errors: closed", Shown::number, nullptr,
     HAMBA_FRONTEND_FIELD(tls_handshake_errors[5], tls_handshake_errors[5])},
    {"tls_record_errors", "hamba_frontend_tls_record_errors_total", nullptr, MetricType::counter,
     "Client connections reset for a TLS record that did not authenticate or was malformed, "
     "after the handshake (tls).",
     "TLS record errors", Shown::number, nullptr,
     HAMBA_FRONTEND_FIELD(tls_record_errors, tls_record_errors)},
    // One family, one row per reason, in engine::Refusal's order (checked below).
    {"refused_deny_list", "hamba_frontend_denied_connections_total", "reason=\"deny_list\"",
     MetricType::counter, kRefusedHelp, "refused: deny list", Shown::number, nullptr,
     HAMBA_FRONTEND_FIELD(refused[0], refused[0])},
    {"refused_not_allowed", "hamba_frontend_denied_connections_total", "reason=\"not_allowed\"",
     MetricType::counter, kRefusedHelp, "refused: not allowed", Shown::number, nullptr,
     HAMBA_FRONTEND_FIELD(refused[1], refused[1])},
    {"refused_untrusted_proxy", "hamba_frontend_denied_connections_total",
     "reason=\"untrusted_proxy\"", MetricType::counter, kRefusedHelp, "refused: untrusted proxy",
     Shown::number, nullptr, HAMBA_FRONTEND_FIELD(refused[2], refused[2])},
    {"refused_source_maxconn", "hamba_frontend_denied_connections_total",
     "reason=\"source_maxconn\"", MetricType::counter, kRefusedHelp, "refused: source maxconn",
     Shown::number, nullptr, HAMBA_FRONTEND_FIELD(refused[3], refused[3])},
    {"refused_source_rate", "hamba_frontend_denied_connections_total", "reason=\"source_rate\"",
     MetricType::counter, kRefusedHelp, "refused: source rate", Shown::number, nullptr,
     HAMBA_FRONTEND_FIELD(refused[4], refused[4])},
};

constexpr const char* kResetsHelp =
    "Connections to the server that ended in a reset, by the side that reset (side).";
constexpr const char* kResetsTitle = "connections reset by the server / by the client";

constexpr ServerCounterRow kServerRows[] = {
    {"maxconn", "hamba_server_max_connections", nullptr, MetricType::gauge,
     "Connections the server may have at once (maxconn; 0: no limit).", "max", Shown::limit,
     nullptr, HAMBA_SERVER_VALUE(s.maxconn(), maxconn, false)},
    {"current", "hamba_server_current_connections", nullptr, MetricType::gauge,
     "Connections to the server now.", "current", Shown::number, nullptr,
     HAMBA_SERVER_FIELD(current)},
    {"total", "hamba_server_connections_total", nullptr, MetricType::counter,
     "Connections made to the server.", "total", Shown::number, nullptr, HAMBA_SERVER_FIELD(total)},
    {"bytes_in", "hamba_server_bytes_in_total", nullptr, MetricType::counter,
     "Bytes sent to the server.", "bytes in", Shown::bytes, nullptr, HAMBA_SERVER_FIELD(bytes_in)},
    {"bytes_out", "hamba_server_bytes_out_total", nullptr, MetricType::counter,
     "Bytes received from the server.", "bytes out", Shown::bytes, nullptr,
     HAMBA_SERVER_FIELD(bytes_out)},
    {"connect_errors", "hamba_server_connect_errors_total", nullptr, MetricType::counter,
     "Connects to the server that were refused or timed out.", "errors", Shown::number, nullptr,
     HAMBA_SERVER_FIELD(connect_errors)},
    {"retries", "hamba_server_retries_total", nullptr, MetricType::counter,
     "Failed connects to the server retried on another server.", "retries", Shown::number, nullptr,
     HAMBA_SERVER_FIELD(retries)},
    {"checks_failed", "hamba_server_check_failures_total", nullptr, MetricType::counter,
     "Failed health checks.", nullptr, Shown::number, nullptr, HAMBA_SERVER_FIELD(checks_failed)},
    {"resets_by_server", "hamba_server_resets_total", "side=\"server\"", MetricType::counter,
     kResetsHelp, "resets", Shown::number, kResetsTitle, HAMBA_SERVER_FIELD(resets_by_server)},
    {"resets_by_client", "hamba_server_resets_total", "side=\"client\"", MetricType::counter,
     kResetsHelp, "resets", Shown::number, kResetsTitle, HAMBA_SERVER_FIELD(resets_by_client)},
    {"weight", "hamba_server_weight", nullptr, MetricType::gauge,
     "The server's configured weight (1-256).", nullptr, Shown::number, nullptr,
     HAMBA_SERVER_VALUE(s.weight(), weight, false)},
    {"effective_weight", "hamba_server_effective_weight", nullptr, MetricType::gauge,
     "The weight balancing uses now, x16: lower while the server ramps up (slowstart).", nullptr,
     Shown::number, nullptr,
     HAMBA_SERVER_VALUE(s.effective_weight(balance::SlowStart::Clock::now()), effective_weight,
                        false)},
    {"backup", "hamba_server_backup", nullptr, MetricType::gauge,
     "1 for a backup server: it takes connections only while no normal server is up.", nullptr,
     Shown::number, nullptr, HAMBA_SERVER_VALUE(s.backup(), backup, false)},
    {"traffic_failures", "hamba_server_traffic_failures_total", nullptr, MetricType::counter,
     "Failed connects and resets before the first byte (passive health).", nullptr, Shown::number,
     nullptr, HAMBA_SERVER_FIELD(traffic_failures)},
    {"downs", "hamba_server_downs_total", nullptr, MetricType::counter,
     "Times the server went DOWN.", nullptr, Shown::number, nullptr, HAMBA_SERVER_FIELD(downs)},
};

#undef HAMBA_FRONTEND_FIELD
#undef HAMBA_SERVER_VALUE
#undef HAMBA_SERVER_FIELD

template <typename Row, size_t N> constexpr size_t counted(const Row (&rows)[N]) {
  return static_cast<size_t>(std::count_if(rows, rows + N, [](const Row& r) { return r.counted; }));
}

// Every field of the counters structs has its row (they hold nothing but counts).
static_assert(sizeof(engine::FrontendCounters) == counted(kFrontendRows) * sizeof(balance::Count),
              "a field of engine::FrontendCounters has no row in kFrontendRows");
static_assert(sizeof(balance::ServerCounters) == counted(kServerRows) * sizeof(balance::Count),
              "a field of balance::ServerCounters has no row in kServerRows");

// The accept errors' rows follow the index local_error_index() counts them by.
constexpr bool accept_reasons_in_order() {
  size_t i = 0;
  for (const FrontendCounterRow& row : kFrontendRows) {
    if (std::string_view(row.metric) != "hamba_accept_errors_total")
      continue;
    std::string_view label = row.label, reason = kLocalErrorReasons[i++];
    if (label.size() != reason.size() + 9 || !label.starts_with("reason=\"") ||
        label.substr(8, reason.size()) != reason || !label.ends_with("\""))
      return false;
  }
  return i == 5;
}
static_assert(accept_reasons_in_order(),
              "the accept errors' rows are not in kLocalErrorReasons' order");

// The refusals' rows follow engine::Refusal, the index they are counted by.
constexpr bool refusal_reasons_in_order() {
  size_t i = 0;
  for (const FrontendCounterRow& row : kFrontendRows) {
    if (std::string_view(row.metric) != "hamba_frontend_denied_connections_total")
      continue;
    std::string_view label = row.label, reason = engine::kRefusalNames[i++];
    if (label.size() != reason.size() + 9 || !label.starts_with("reason=\"") ||
        label.substr(8, reason.size()) != reason || !label.ends_with("\""))
      return false;
  }
  return i == engine::kRefusalReasons;
}
static_assert(refusal_reasons_in_order(), "the refusals' rows are not in engine::Refusal's order");

} // namespace

std::span<const FrontendCounterRow> frontend_counters() {
  return kFrontendRows;
}

std::span<const ServerCounterRow> server_counters() {
  return kServerRows;
}

} // namespace hamba::control
