// A TLS transport's OpenSSL session: made, renewed for a new connect, resumed, started, the
// facts it gives (ALPN, the peer's certificate, cipher, version), and its end once the
// handshake is done and hamba's record layer takes over, the facts kept; see tls_transport.h.
#include "net/tls_transport.h"

#include <openssl/err.h>
#include <openssl/x509.h>

namespace hamba::net {

// The write side's BIO: what OpenSSL seals goes to the lower transport as it is written (taken
// by the kernel, or copied into the lower transport's bounded queue), so nothing is held here
// between calls, and no buffer sized by the largest write stays with an idle connection. A
// write error is kept for flush() to report; OpenSSL is told the bytes went.
BIO_METHOD* TlsTransport::lower_bio_method() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "hamba lower");
    if (!m)
      return m;
    BIO_meth_set_write(m, [](BIO* b, const char* data, int len) -> int {
      auto* self = static_cast<TlsTransport*>(BIO_get_data(b));
      if (self->write_error_ == 0 && len > 0) {
        if (self->handover_)
          self->handover_->wrote(data, static_cast<size_t>(len));
        uv_buf_t buf = uv_buf_init(const_cast<char*>(data), static_cast<unsigned>(len));
        self->write_error_ = self->lower_.write(&buf, 1);
      }
      return len;
    });
    BIO_meth_set_ctrl(m, [](BIO*, int cmd, long, void*) -> long {
      return cmd == BIO_CTRL_FLUSH ? 1 : 0; // nothing is ever pending here
    });
    BIO_meth_set_create(m, [](BIO* b) -> int {
      BIO_set_init(b, 1);
      return 1;
    });
    return m;
  }();
  return method;
}

TlsTransport::TlsTransport(Transport& lower, std::shared_ptr<const TlsServerContext> context,
                           uv_loop_t* loop, std::shared_ptr<const TicketKeySet> ticket_keys)
    : lower_(lower), context_(std::move(context)), ticket_keys_(std::move(ticket_keys)),
      loop_(loop) {
  make_session(context_->new_session());
  if (ssl_)
    use_ticket_keys(ssl_, ticket_keys_.get());
}

TlsTransport::TlsTransport(Transport& lower, std::shared_ptr<const TlsClientContext> context,
                           uv_loop_t* loop)
    : lower_(lower), client_context_(std::move(context)), loop_(loop) {
  make_session(client_context_->new_session());
}

void TlsTransport::renew() {
  free_session();
  established_ = lower_eof_ = eof_told_ = heard_ = false;
  failure_ = TlsFailure::none;
  failure_text_ = "";
  server_name_.clear();
  make_session(client_context_->new_session());
}

void TlsTransport::resume_from(std::shared_ptr<TlsSessionSlot> slot) {
  session_slot_ = std::move(slot);
  if (ssl_ && client_context_)
    client_context_->resume_from(ssl_, session_slot_.get());
}

void TlsTransport::renew(std::shared_ptr<const TlsClientContext> context) {
  client_context_ = std::move(context);
  renew();
}

void TlsTransport::make_session(SSL* ssl) {
  ssl_ = ssl;
  rbio_ = BIO_new(BIO_s_mem());
  BIO_METHOD* lower_method = lower_bio_method();
  wbio_ = lower_method ? BIO_new(lower_method) : nullptr;
  write_error_ = 0;
  if (!ssl_ || !rbio_ || !wbio_) {
    BIO_free(rbio_);
    BIO_free(wbio_);
    SSL_free(ssl_);
    ssl_ = nullptr;
    rbio_ = wbio_ = nullptr;
    return; // start_handshake() says UV_ENOMEM
  }
  // An empty read BIO asks for more (SSL_ERROR_WANT_READ) rather than reporting an EOF.
  BIO_set_mem_eof_return(rbio_, -1);
  BIO_set_data(wbio_, this);
  SSL_set_bio(ssl_, rbio_, wbio_);
  if (client_context_) {
    SSL_set_connect_state(ssl_);
  } else {
    SSL_set_accept_state(ssl_);
    handover_ = std::make_unique<TlsHandover>(ssl_);
  }
}

TlsTransport::~TlsTransport() {
  free_session();
}

void TlsTransport::free_session() {
  if (later_)
    later_->close();
  handover_.reset(); // before the SSL it is registered with
  SSL_free(ssl_);    // and both BIOs
  ssl_ = nullptr;
  rbio_ = wbio_ = nullptr;
  records_.reset();
  release_held();
  want_ = Want::none;
}

void TlsTransport::feed(const char* data, size_t len) {
  if (ssl_ && len > 0) {
    heard_ = true;
    if (BIO_write(rbio_, data, static_cast<int>(len)) == static_cast<int>(len) && handover_)
      handover_->fed(data, len);
  }
}

int TlsTransport::start_handshake() {
  if (!ssl_)
    return UV_ENOMEM;
  lower_.set_handler(this);
  int rc = lower_.start_reading();
  if (rc < 0)
    return rc;
  if (client_context_) { // the ClientHello goes now; nothing else can happen before a read
    ERR_clear_error();
    SSL_do_handshake(ssl_);
    ERR_clear_error();
    return flush();
  }
  if (BIO_ctrl_pending(rbio_) > 0)
    deliver_later(); // fed bytes: stepped from the loop, as a read would be
  return 0;
}

std::string_view TlsTransport::alpn() const {
  if (!ssl_)
    return facts_.alpn;
  const unsigned char* p = nullptr;
  unsigned int n = 0;
  SSL_get0_alpn_selected(ssl_, &p, &n);
  return {reinterpret_cast<const char*>(p), n};
}

std::string TlsTransport::peer_subject() const {
  if (!ssl_)
    return facts_.subject;
  X509* peer = SSL_get0_peer_certificate(ssl_);
  if (!peer)
    return {};
  BIO* out = BIO_new(BIO_s_mem());
  if (!out)
    return {};
  X509_NAME_print_ex(out, X509_get_subject_name(peer), 0, XN_FLAG_RFC2253);
  BUF_MEM* mem = nullptr;
  BIO_get_mem_ptr(out, &mem);
  std::string subject = mem ? std::string(mem->data, mem->length) : std::string();
  BIO_free(out);
  return subject;
}

std::string TlsTransport::peer_common_name() const {
  if (!ssl_)
    return facts_.common_name;
  X509* peer = SSL_get0_peer_certificate(ssl_);
  if (!peer)
    return {};
  char cn[256];
  int n = X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof cn);
  return n > 0 ? std::string(cn, static_cast<size_t>(n)) : std::string();
}

const char* TlsTransport::cipher() const {
  if (!ssl_)
    return facts_.cipher;
  const char* name = SSL_get_cipher_name(ssl_);
  return name ? name : "";
}

const char* TlsTransport::version() const {
  return ssl_ ? SSL_get_version(ssl_) : facts_.version;
}

void TlsTransport::take_records() {
  std::unique_ptr<TlsRecords> records = handover_->take(ssl_);
  handover_.reset();
  if (!records)
    return; // OpenSSL keeps the record layer: correct, just not small
  // The facts asked for after the handshake (the log, PROXY v2 TLVs).
  const unsigned char* p = nullptr;
  unsigned int n = 0;
  SSL_get0_alpn_selected(ssl_, &p, &n);
  if (p)
    facts_.alpn.assign(reinterpret_cast<const char*>(p), n);
  facts_.subject = peer_subject();
  facts_.common_name = peer_common_name();
  facts_.version = SSL_get_version(ssl_);
  facts_.cipher = cipher();
  facts_.resumed = SSL_session_reused(ssl_) == 1;
  records_ = std::move(records);
  // What came after the client's Finished is still in the read BIO: the first records to open.
  char* unread = nullptr;
  long left = BIO_get_mem_data(rbio_, &unread);
  if (left > 0 && !hold(reinterpret_cast<const uint8_t*>(unread), static_cast<size_t>(left))) {
    records_.reset(); // out of memory: OpenSSL keeps it
    return;
  }
  SSL_free(ssl_); // and both BIOs
  ssl_ = nullptr;
  rbio_ = wbio_ = nullptr;
  ticket_keys_.reset(); // only the SSL object used them
  context_.reset();
}

} // namespace hamba::net
