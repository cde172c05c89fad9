// The process's file descriptors: how many it may hold, how many it holds now, and which errors
// mean hamba itself ran short of a resource (so no peer is blamed for them).
//
//     if (is_local_error(rc)) log::warn("hamba's own shortage: {}", uvx::error_text(rc));
//     int room = descriptor_limit() - descriptors_open();
//
// Descriptors are a process-wide resource: these read the process, not one loop.
#pragma once

namespace hamba {

// EMFILE, ENFILE, ENOBUFS, ENOMEM (libuv codes): this process or host is out of descriptors or
// memory. Never a sign that the peer is down.
bool is_local_error(int uv_error);

// Labels for counters and metrics, and the index of an error's label: "emfile", "enfile",
// "enobufs", "enomem", or "other" for any other error.
inline constexpr const char* kLocalErrorReasons[5] = {"emfile", "enfile", "enobufs", "enomem",
                                                      "other"};
int local_error_index(int uv_error);

// The soft RLIMIT_NOFILE, read now (a start-up step may have raised it); a large number when
// unlimited.
int descriptor_limit();

// Descriptors open now (Linux: the entries of /proc/self/fd, minus the one reading it), or -1
// when that cannot be read. Costs one directory read: call it rarely.
int descriptors_open();

} // namespace hamba
