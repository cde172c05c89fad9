// Holding refused connections for a while; see tarpit.h.
#include "engine/tarpit.h"

#include <unistd.h>

namespace hamba::engine {

Tarpit::Tarpit(uv_loop_t* loop) : loop_(loop) {
  timer_.init(loop, this);
  timer_.unref(); // held connections never keep a stopping loop alive
}

Tarpit::~Tarpit() {
  release_all();
  timer_.close();
}

bool Tarpit::hold(int fd, uint64_t delay_ms) {
  if (held_.size() >= kMaxHeld)
    return false;
  held_.push_back({fd, uv_now(loop_) + delay_ms});
  if (held_.size() == 1)
    arm();
  return true;
}

void Tarpit::release_all() {
  for (const Held& h : held_)
    ::close(h.fd);
  held_.clear();
  timer_.stop();
}

void Tarpit::arm() {
  if (held_.empty())
    return;
  const uint64_t now = uv_now(loop_);
  const uint64_t until = held_.front().until_ms;
  timer_.start<&Tarpit::on_timer>(until > now ? until - now : 0);
}

void Tarpit::on_timer() {
  const uint64_t now = uv_now(loop_);
  while (!held_.empty() && held_.front().until_ms <= now) {
    ::close(held_.front().fd);
    held_.pop_front();
  }
  arm();
}

} // namespace hamba::engine
