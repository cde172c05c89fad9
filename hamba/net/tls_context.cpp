// Certificates, names and settings of a TLS-terminating frontend; see tls_context.h.
#include "net/tls_context.h"

#include "net/tls_handover.h"
#include "net/tls_ticket_keys.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <openssl/err.h>
#include <openssl/x509v3.h>

namespace hamba::net {

namespace {

// OpenSSL's reason for the last error on this thread's queue, and the queue emptied.
std::string openssl_reason() {
  unsigned long e = ERR_peek_last_error();
  const char* reason = e ? ERR_reason_error_string(e) : nullptr;
  ERR_clear_error();
  return reason ? reason : "unknown error";
}

void check_readable(const std::string& path, const char* what) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f)
    throw TlsError(std::string("tls ") + what + " " + path +
                   ": cannot read: " + std::strerror(errno));
  std::fclose(f);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::vector<std::string> san_names(X509* cert) {
  std::vector<std::string> names;
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (!sans)
    return names;
  for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(sans, i);
    if (n->type != GEN_DNS)
      continue;
    const auto* data = reinterpret_cast<const char*>(ASN1_STRING_get0_data(n->d.dNSName));
    names.push_back(lower({data, static_cast<size_t>(ASN1_STRING_length(n->d.dNSName))}));
  }
  GENERAL_NAMES_free(sans);
  return names;
}

// The SSL's slot for its TlsSessionSlot (asked for on the main loop, by the first context built).
int slot_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

} // namespace

bool tls_name_matches(std::string_view pattern, std::string_view name) {
  if (!pattern.starts_with("*."))
    return pattern == name;
  std::string_view suffix = pattern.substr(1); // ".example.com"
  if (name.size() <= suffix.size() || !name.ends_with(suffix))
    return false;
  std::string_view label = name.substr(0, name.size() - suffix.size());
  return label.find('.') == std::string_view::npos;
}

std::shared_ptr<const TlsServerContext> TlsServerContext::build(const TlsServerOptions& options) {
  std::shared_ptr<TlsServerContext> self(new TlsServerContext);
  ERR_clear_error();
  if (!options.client_ca.empty())
    check_readable(options.client_ca, "client_ca");
  for (const auto& c : options.certs) {
    check_readable(c.cert, "cert");
    check_readable(c.key, "key");
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx)
      throw TlsError("tls: cannot make a context: " + openssl_reason());
    self->entries_.push_back({ctx, {}});
    if (SSL_CTX_use_certificate_chain_file(ctx, c.cert.c_str()) != 1)
      throw TlsError("tls cert " + c.cert + ": not a PEM certificate: " + openssl_reason());
    if (SSL_CTX_use_PrivateKey_file(ctx, c.key.c_str(), SSL_FILETYPE_PEM) != 1)
      throw TlsError("tls key " + c.key + ": not a PEM private key" +
                     (ERR_peek_last_error() ? ": " + openssl_reason() : ""));
    if (SSL_CTX_check_private_key(ctx) != 1) {
      ERR_clear_error();
      throw TlsError("tls key " + c.key + ": does not match the certificate in " + c.cert);
    }
    X509* x = SSL_CTX_get0_certificate(ctx);
    if (X509_cmp_current_time(X509_get0_notAfter(x)) < 0)
      throw TlsError("tls cert " + c.cert + ": the certificate has expired");
    self->entries_.back().names = san_names(x);
    // Only 1.2 and 1.3; OpenSSL's default cipher lists for both.
    SSL_CTX_set_min_proto_version(ctx, options.tls13_only ? TLS1_3_VERSION : TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    static const unsigned char kSessionContext[] = "hamba";
    SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
    enable_ticket_keys(ctx);
    // The application traffic secrets, for hamba's record layer after the handshake.
    SSL_CTX_set_keylog_callback(ctx, &TlsHandover::on_keylog);
    // (SSL_CTX_set_tlsext_servername_callback, without the macro's C cast.)
    SSL_CTX_callback_ctrl(ctx, SSL_CTRL_SET_TLSEXT_SERVERNAME_CB,
                          reinterpret_cast<void (*)()>(&TlsServerContext::on_server_name));
    SSL_CTX_set_tlsext_servername_arg(ctx, self.get());
    if (!options.alpn.empty())
      SSL_CTX_set_alpn_select_cb(ctx, &TlsServerContext::on_alpn, self.get());
    if (!options.client_ca.empty()) {
      // Every context loads it: the one a server name picks verifies the client.
      if (SSL_CTX_load_verify_locations(ctx, options.client_ca.c_str(), nullptr) != 1)
        throw TlsError("tls client_ca " + options.client_ca +
                       ": not a PEM CA bundle: " + openssl_reason());
      STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(options.client_ca.c_str());
      if (!names)
        throw TlsError("tls client_ca " + options.client_ca + ": no certificate in it");
      SSL_CTX_set_client_CA_list(ctx, names); // the names it asks for
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    }
  }
  for (const std::string& p : options.alpn) {
    self->alpn_wire_ += static_cast<char>(p.size());
    self->alpn_wire_ += p;
  }
  if (self->entries_.empty())
    throw TlsError("tls: no certificate");
  return self;
}

TlsServerContext::~TlsServerContext() {
  for (Entry& e : entries_)
    SSL_CTX_free(e.ctx); // sessions made from it hold their own reference
}

SSL* TlsServerContext::new_session() const {
  return SSL_new(entries_.front().ctx);
}

size_t TlsServerContext::pick(std::string_view server_name) const {
  if (server_name.empty())
    return 0;
  for (bool wildcards : {false, true})
    for (size_t i = 0; i < entries_.size(); ++i)
      for (const std::string& pattern : entries_[i].names)
        if (pattern.starts_with("*.") == wildcards && tls_name_matches(pattern, server_name))
          return i;
  return 0;
}

int TlsServerContext::on_server_name(SSL* ssl, int*, void* arg) {
  const auto* self = static_cast<const TlsServerContext*>(arg);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (!name)
    return SSL_TLSEXT_ERR_NOACK;
  size_t i = self->pick(lower(name));
  if (i != 0)
    SSL_set_SSL_CTX(ssl, self->entries_[i].ctx);
  return SSL_TLSEXT_ERR_OK;
}

int TlsServerContext::on_alpn(SSL*, const unsigned char** out, unsigned char* outlen,
                              const unsigned char* in, unsigned int inlen, void* arg) {
  const auto* self = static_cast<const TlsServerContext*>(arg);
  unsigned char* chosen = nullptr;
  // The server's list first: its order of preference wins.
  if (SSL_select_next_proto(
          &chosen, outlen, reinterpret_cast<const unsigned char*>(self->alpn_wire_.data()),
          static_cast<unsigned>(self->alpn_wire_.size()), in, inlen) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK; // no protocol in common: the handshake goes on without ALPN
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

std::shared_ptr<const TlsClientContext> TlsClientContext::build(const TlsClientOptions& options) {
  std::shared_ptr<TlsClientContext> self(new TlsClientContext);
  ERR_clear_error();
  self->ctx_ = SSL_CTX_new(TLS_client_method());
  if (!self->ctx_)
    throw TlsError("server_tls: cannot make a context: " + openssl_reason());
  SSL_CTX* ctx = self->ctx_;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  // Sessions (tickets) toward servers: each one handed to on_new_session, none cached here
  // (and so no flush of that cache, which every worker would otherwise lock in turn).
  slot_index();
  SSL_CTX_set_app_data(ctx, self.get());
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE |
                                          SSL_SESS_CACHE_NO_AUTO_CLEAR);
  SSL_CTX_sess_set_new_cb(ctx, &TlsClientContext::on_new_session);
  self->server_name_ = options.server_name;
  self->verify_ = options.verify != "none";
  if (self->verify_) {
    check_readable(options.verify, "verify");
    if (SSL_CTX_load_verify_locations(ctx, options.verify.c_str(), nullptr) != 1)
      throw TlsError("server_tls verify " + options.verify +
                     ": not a PEM CA bundle: " + openssl_reason());
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  if (!options.cert.empty()) {
    check_readable(options.cert, "cert");
    check_readable(options.key, "key");
    if (SSL_CTX_use_certificate_chain_file(ctx, options.cert.c_str()) != 1)
      throw TlsError("server_tls cert " + options.cert +
                     ": not a PEM certificate: " + openssl_reason());
    if (SSL_CTX_use_PrivateKey_file(ctx, options.key.c_str(), SSL_FILETYPE_PEM) != 1)
      throw TlsError("server_tls key " + options.key + ": not a PEM private key");
    if (SSL_CTX_check_private_key(ctx) != 1) {
      ERR_clear_error();
      throw TlsError("server_tls key " + options.key + ": does not match the certificate in " +
                     options.cert);
    }
    if (X509_cmp_current_time(X509_get0_notAfter(SSL_CTX_get0_certificate(ctx))) < 0)
      throw TlsError("server_tls cert " + options.cert + ": the certificate has expired");
  }
  ERR_clear_error();
  return self;
}

TlsSessionSlot::~TlsSessionSlot() {
  SSL_SESSION_free(session_);
}

SSL_SESSION* TlsSessionSlot::session_for(const TlsClientContext* context) const {
  return context == context_ ? session_ : nullptr;
}

void TlsSessionSlot::keep(const TlsClientContext* context, const SSL_SESSION* session) {
  // A copy: OpenSSL marks a connection's own session not resumable when it ends without a
  // close_notify (a reset), and that must not spoil the one kept for the next connect.
  SSL_SESSION* copy = SSL_SESSION_dup(session);
  if (!copy)
    return;
  SSL_SESSION_free(session_);
  session_ = copy;
  context_ = context;
}

int TlsClientContext::on_new_session(SSL* ssl, SSL_SESSION* session) {
  auto* slot = static_cast<TlsSessionSlot*>(SSL_get_ex_data(ssl, slot_index()));
  const auto* self =
      static_cast<const TlsClientContext*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  if (slot && self && SSL_SESSION_is_resumable(session) == 1)
    slot->keep(self, session);
  return 0; // OpenSSL keeps its own reference
}

void TlsClientContext::resume_from(SSL* ssl, TlsSessionSlot* slot) const {
  SSL_set_ex_data(ssl, slot_index(), slot);
  if (SSL_SESSION* s = slot ? slot->session_for(this) : nullptr)
    SSL_set_session(ssl, s);
}

TlsClientContext::~TlsClientContext() {
  SSL_CTX_free(ctx_);
}

SSL* TlsClientContext::new_session() const {
  SSL* ssl = SSL_new(ctx_);
  if (!ssl || server_name_.empty())
    return ssl;
  SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
           const_cast<char*>(server_name_.c_str()));
  if (verify_)
    SSL_set1_host(ssl, server_name_.c_str()); // the certificate must name it
  return ssl;
}

} // namespace hamba::net
