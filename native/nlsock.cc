// nlsock: the ONLY native boundary of ctsyncd (research/netlink-measurements.md, option B).
//
// A non-blocking AF_NETLINK socket plus a shared receive area:
//  - `buffer` is one ArrayBuffer of `slots * slotSize` bytes; datagram i lands at i * slotSize,
//    its length in `lengths[i]` (Int32Array). JS parses in place and must not keep references
//    to the bytes after the callback returns (the next read overwrites them).
//  - start(onBatch, onError): uv_poll watches the fd; each wake-up reads with recvmmsg in rounds
//    of up to `slots` datagrams and calls onBatch(count) once per round.
//  - ENOBUFS (receive overrun) - whether it comes back from recvmmsg or as POLLERR, which libuv
//    reports as UV_EBADF after stopping the handle - is reported via onError(errno), the handle
//    is re-armed and reading continues. The socket is never closed on an error.
//  - A JS exception thrown by a callback is turned into an uncaught exception
//    (napi_fatal_exception), never a C++ throw across libuv (the npm `netlink` abort, §1.1).
//  - readNow(timeoutMs): synchronous read of whatever is queued (optionally waiting once with
//    poll()), used right after send(): the kernel handles a ctnetlink batch inside sendmsg, so
//    every ACK/error is already queued when send returns (§3.1).
//  - sendAsync(buf, off, len, cb(errno, bytes)): the same sendmsg on the libuv threadpool, so
//    the kernel's per-entry work for a batch (µs per entry) runs while JS encodes the next
//    batch. The worker holds references to the socket and the buffer until cb runs; the caller
//    must not modify the bytes meanwhile. close() with sends in flight defers closing the fd
//    until the last one has returned (the fd number must not be reused under a running send).
//    `sendsInKernel` counts the sends whose sendmsg has not returned yet (set off the JS thread,
//    so JS can tell whether the kernel is still busy before the callback has run).
// Also exports unixDgramSend(path, data) for sd_notify (Node has no AF_UNIX datagram sockets).
//
// Built without C++ exceptions (NAPI_DISABLE_CPP_EXCEPTIONS): errors are JS exceptions with
// `code` (e.g. 'ENOBUFS') and `errno` set.

#include <napi.h>
#include <uv.h>

#include <errno.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <vector>

namespace {

Napi::Value ThrowErrno(Napi::Env env, int err, const char* op) {
  std::string msg = std::string(op) + ": " + strerror(err);
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("code", Napi::String::New(env, uv_err_name(-err)));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, op));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

// A JS callback threw: hand the exception to Node's uncaughtException machinery instead of
// letting it vanish or aborting the process.
void RethrowPending(Napi::Env env) {
  if (!env.IsExceptionPending()) return;
  napi_value exc;
  napi_get_and_clear_last_exception(env, &exc);
  napi_fatal_exception(env, exc);
}

// One datagram to the kernel (nl_pid 0), retried on EINTR. Returns bytes sent, or -1 with errno
// set. Plain C: safe on a threadpool thread (sendAsync) as well as on the JS thread (send).
ssize_t SendToKernel(int fd, const uint8_t* data, size_t len) {
  struct sockaddr_nl dst;
  memset(&dst, 0, sizeof dst);
  dst.nl_family = AF_NETLINK;
  struct iovec iov = {const_cast<uint8_t*>(data), len};
  struct msghdr mh;
  memset(&mh, 0, sizeof mh);
  mh.msg_name = &dst;
  mh.msg_namelen = sizeof dst;
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  ssize_t n;
  do {
    n = sendmsg(fd, &mh, 0);
  } while (n < 0 && errno == EINTR);
  return n;
}

class NlSocket : public Napi::ObjectWrap<NlSocket> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "NlSocket",
                       {
                           InstanceAccessor<&NlSocket::GetPortId>("portId"),
                           InstanceAccessor<&NlSocket::GetFd>("fd"),
                           InstanceAccessor<&NlSocket::GetBuffer>("buffer"),
                           InstanceAccessor<&NlSocket::GetLengths>("lengths"),
                           InstanceAccessor<&NlSocket::GetSlotSize>("slotSize"),
                           InstanceAccessor<&NlSocket::GetSlots>("slots"),
                           InstanceAccessor<&NlSocket::GetOverruns>("overruns"),
                           InstanceAccessor<&NlSocket::GetTruncated>("truncated"),
                           InstanceAccessor<&NlSocket::GetPollErrors>("pollErrors"),
                           InstanceMethod<&NlSocket::SetSockOpt>("setsockopt"),
                           InstanceMethod<&NlSocket::GetSockOpt>("getsockopt"),
                           InstanceMethod<&NlSocket::Send>("send"),
                           InstanceMethod<&NlSocket::SendAsync>("sendAsync"),
                           InstanceAccessor<&NlSocket::GetInflight>("inflight"),
                           InstanceAccessor<&NlSocket::GetSendsInKernel>("sendsInKernel"),
                           InstanceMethod<&NlSocket::ReadNow>("readNow"),
                           InstanceMethod<&NlSocket::Start>("start"),
                           InstanceMethod<&NlSocket::Stop>("stop"),
                           InstanceMethod<&NlSocket::Close>("close"),
                       });
  }

  // new NlSocket(protocol, slots, slotSize)
  explicit NlSocket(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NlSocket>(info) {
    Napi::Env env = info.Env();
    int protocol = info[0].As<Napi::Number>().Int32Value();
    slots_ = info.Length() > 1 ? info[1].As<Napi::Number>().Int32Value() : 64;
    slot_size_ = info.Length() > 2 ? info[2].As<Napi::Number>().Int32Value() : 32768;
    if (slots_ < 1 || slots_ > 4096 || slot_size_ < 4096 || slot_size_ > (1 << 20)) {
      Napi::RangeError::New(env, "nlsock: slots must be 1..4096 and slotSize 4096..1048576")
          .ThrowAsJavaScriptException();
      return;
    }
    fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
    if (fd_ < 0) {
      ThrowErrno(env, errno, "socket");
      return;
    }
    struct sockaddr_nl sa;
    memset(&sa, 0, sizeof sa);
    sa.nl_family = AF_NETLINK;  // nl_pid 0: the kernel assigns a unique port id
    if (bind(fd_, reinterpret_cast<struct sockaddr*>(&sa), sizeof sa) < 0) {
      int e = errno;
      ::close(fd_);
      fd_ = -1;
      ThrowErrno(env, e, "bind");
      return;
    }
    socklen_t sl = sizeof sa;
    if (getsockname(fd_, reinterpret_cast<struct sockaddr*>(&sa), &sl) < 0) {
      int e = errno;
      ::close(fd_);
      fd_ = -1;
      ThrowErrno(env, e, "getsockname");
      return;
    }
    port_id_ = sa.nl_pid;

    size_t total = static_cast<size_t>(slots_) * static_cast<size_t>(slot_size_);
    Napi::Buffer<uint8_t> buf = Napi::Buffer<uint8_t>::New(env, total);
    data_ = buf.Data();
    buffer_ref_ = Napi::Persistent(buf.As<Napi::Object>());
    Napi::ArrayBuffer lab = Napi::ArrayBuffer::New(env, sizeof(int32_t) * slots_);
    lens_ = static_cast<int32_t*>(lab.Data());
    lengths_ref_ = Napi::Persistent(Napi::Int32Array::New(env, slots_, lab, 0).As<Napi::Object>());

    msgs_.resize(slots_);
    iov_.resize(slots_);
    for (int i = 0; i < slots_; i++) {
      iov_[i].iov_base = data_ + static_cast<size_t>(i) * slot_size_;
      iov_[i].iov_len = slot_size_;
      memset(&msgs_[i], 0, sizeof(struct mmsghdr));
      msgs_[i].msg_hdr.msg_iov = &iov_[i];
      msgs_[i].msg_hdr.msg_iovlen = 1;
    }
  }

  ~NlSocket() override {
    // Collected without close(): only possible while not polling (self_ref_ pins us otherwise).
    if (poll_ != nullptr) {
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
      poll_ = nullptr;
    }
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  int fd_ = -1;
  uint32_t port_id_ = 0;
  int slots_ = 0;
  int slot_size_ = 0;
  uint8_t* data_ = nullptr;
  int32_t* lens_ = nullptr;
  double overruns_ = 0;
  double truncated_ = 0;
  double poll_errors_ = 0;  // POLLERR wake-ups (libuv UV_EBADF), each re-armed
  Napi::ObjectReference buffer_ref_;
  Napi::ObjectReference lengths_ref_;
  std::vector<struct mmsghdr> msgs_;
  std::vector<struct iovec> iov_;

  uv_poll_t* poll_ = nullptr;
  bool polling_ = false;
  bool closed_ = false;
  Napi::FunctionReference on_batch_;
  Napi::FunctionReference on_error_;
  Napi::ObjectReference self_ref_;  // keeps the wrapper alive while the poll handle is armed
  napi_env env_ = nullptr;
  int inflight_ = 0;  // sendAsync workers not yet completed (they use fd_ on a pool thread)
  std::atomic<int> in_kernel_{0};  // of those, the ones whose sendmsg is still running

  // One sendmsg on the threadpool. Execute() touches only plain copies (fd, pointer, length):
  // no N-API calls off the main thread.
  class SendWorker : public Napi::AsyncWorker {
   public:
    SendWorker(Napi::Function cb, NlSocket* sock, Napi::Object self, Napi::Object buf, const uint8_t* data, size_t len)
        : Napi::AsyncWorker(cb, "nlsock.sendAsync"), sock_(sock), fd_(sock->fd_), data_(data), len_(len) {
      self_ref_ = Napi::Persistent(self);
      buf_ref_ = Napi::Persistent(buf);
    }
    void Execute() override {
      ssize_t n = SendToKernel(fd_, data_, len_);
      if (n < 0) err_ = errno;
      else sent_ = n;
      sock_->in_kernel_.fetch_sub(1, std::memory_order_release);
    }
    void OnOK() override {
      Napi::Env env = Env();
      Napi::HandleScope scope(env);
      sock_->SendDone();
      // a throwing callback: AsyncWorker leaves the exception pending and N-API raises it as
      // uncaught (the JS wrapper catches its own errors, so this does not happen in practice)
      Callback().Call({Napi::Number::New(env, err_), Napi::Number::New(env, static_cast<double>(sent_))});
    }

   private:
    NlSocket* sock_;
    int fd_;
    const uint8_t* data_;
    size_t len_;
    int err_ = 0;
    ssize_t sent_ = 0;
    Napi::ObjectReference self_ref_;
    Napi::ObjectReference buf_ref_;
  };

  void SendDone() {
    inflight_--;
    if (closed_ && inflight_ == 0) CloseFd();
  }

  void CloseFd() {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

  Napi::Value GetPortId(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), port_id_); }
  Napi::Value GetFd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), fd_); }
  Napi::Value GetBuffer(const Napi::CallbackInfo& info) { return buffer_ref_.Value(); }
  Napi::Value GetLengths(const Napi::CallbackInfo& info) { return lengths_ref_.Value(); }
  Napi::Value GetSlotSize(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), slot_size_); }
  Napi::Value GetSlots(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), slots_); }
  Napi::Value GetOverruns(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), overruns_); }
  Napi::Value GetTruncated(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), truncated_); }
  Napi::Value GetPollErrors(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), poll_errors_); }
  Napi::Value GetInflight(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), inflight_); }
  Napi::Value GetSendsInKernel(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), in_kernel_.load(std::memory_order_acquire));
  }

  bool CheckOpen(Napi::Env env) {
    if (closed_ || fd_ < 0) {
      ThrowErrno(env, EBADF, "nlsock (closed)");
      return false;
    }
    return true;
  }

  // setsockopt(level, opt, intValue)
  Napi::Value SetSockOpt(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return env.Undefined();
    int level = info[0].As<Napi::Number>().Int32Value();
    int opt = info[1].As<Napi::Number>().Int32Value();
    int val = info[2].As<Napi::Number>().Int32Value();
    if (setsockopt(fd_, level, opt, &val, sizeof val) < 0) return ThrowErrno(env, errno, "setsockopt");
    return env.Undefined();
  }

  // getsockopt(level, opt) -> int
  Napi::Value GetSockOpt(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return env.Undefined();
    int level = info[0].As<Napi::Number>().Int32Value();
    int opt = info[1].As<Napi::Number>().Int32Value();
    int val = 0;
    socklen_t len = sizeof val;
    if (getsockopt(fd_, level, opt, &val, &len) < 0) return ThrowErrno(env, errno, "getsockopt");
    return Napi::Number::New(env, val);
  }

  // send(buffer[, offset, length]) -> bytes sent. Synchronous sendmsg to the kernel (pid 0).
  Napi::Value Send(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return env.Undefined();
    Napi::Uint8Array u8 = info[0].As<Napi::Uint8Array>();
    size_t off = info.Length() > 1 ? info[1].As<Napi::Number>().Uint32Value() : 0;
    size_t len = info.Length() > 2 ? info[2].As<Napi::Number>().Uint32Value() : u8.ByteLength() - off;
    if (off + len > u8.ByteLength()) {
      Napi::RangeError::New(env, "nlsock.send: range outside the buffer").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    ssize_t n = SendToKernel(fd_, u8.Data() + off, len);
    if (n < 0) return ThrowErrno(env, errno, "sendmsg");
    return Napi::Number::New(env, static_cast<double>(n));
  }

  // sendAsync(buffer, offset, length, cb(errno, bytes)): sendmsg on the threadpool; cb runs on
  // the JS thread with errno 0 on success. Argument errors throw synchronously.
  Napi::Value SendAsync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return env.Undefined();
    Napi::Uint8Array u8 = info[0].As<Napi::Uint8Array>();
    size_t off = info[1].As<Napi::Number>().Uint32Value();
    size_t len = info[2].As<Napi::Number>().Uint32Value();
    if (off + len > u8.ByteLength()) {
      Napi::RangeError::New(env, "nlsock.sendAsync: range outside the buffer").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    auto* w = new SendWorker(info[3].As<Napi::Function>(), this, Value(), u8, u8.Data() + off, len);
    inflight_++;
    in_kernel_.fetch_add(1, std::memory_order_relaxed);
    w->Queue();
    return env.Undefined();
  }

  // One recvmmsg round into the slots. Returns the datagram count (>= 0), 0 on EAGAIN, or
  // -errno on an error (ENOBUFS counted as an overrun).
  int ReadRound() {
    for (int i = 0; i < slots_; i++) msgs_[i].msg_hdr.msg_flags = 0;
    int n;
    do {
      n = recvmmsg(fd_, msgs_.data(), slots_, MSG_DONTWAIT, nullptr);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      int e = errno;
      if (e == EAGAIN || e == EWOULDBLOCK) return 0;
      if (e == ENOBUFS) overruns_++;
      return -e;
    }
    for (int i = 0; i < n; i++) {
      lens_[i] = static_cast<int32_t>(msgs_[i].msg_len);
      if (msgs_[i].msg_hdr.msg_flags & MSG_TRUNC) truncated_++;
    }
    return n;
  }

  // readNow([timeoutMs]) -> count of datagrams now in the slots. Waits up to timeoutMs (once)
  // when nothing is queued. ENOBUFS is counted in `overruns` and the read is retried once (the
  // error is reported once per congestion episode; the queue still holds data). Other errors
  // throw.
  Napi::Value ReadNow(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return env.Undefined();
    int timeout = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 0;
    for (int attempt = 0; attempt < 3; attempt++) {
      int n = ReadRound();
      if (n > 0) return Napi::Number::New(env, n);
      if (n == -ENOBUFS) continue;
      if (n < 0) return ThrowErrno(env, -n, "recvmmsg");
      if (timeout <= 0) return Napi::Number::New(env, 0);
      struct pollfd p = {fd_, POLLIN, 0};
      int r;
      do {
        r = poll(&p, 1, timeout);
      } while (r < 0 && errno == EINTR);
      if (r < 0) return ThrowErrno(env, errno, "poll");
      if (r == 0) return Napi::Number::New(env, 0);
      timeout = 0;
    }
    return Napi::Number::New(env, 0);
  }

  // start(onBatch(count), onError(errno)): watch the socket with uv_poll.
  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return env.Undefined();
    on_batch_ = Napi::Persistent(info[0].As<Napi::Function>());
    on_error_ = Napi::Persistent(info[1].As<Napi::Function>());
    env_ = env;
    if (poll_ == nullptr) {
      uv_loop_t* loop = nullptr;
      napi_get_uv_event_loop(env, &loop);
      poll_ = new uv_poll_t;
      int r = uv_poll_init(loop, poll_, fd_);
      if (r < 0) {
        delete poll_;
        poll_ = nullptr;
        return ThrowErrno(env, -r, "uv_poll_init");
      }
      poll_->data = this;
    }
    if (!polling_) {
      int r = uv_poll_start(poll_, UV_READABLE, OnPoll);
      if (r < 0) return ThrowErrno(env, -r, "uv_poll_start");
      polling_ = true;
      if (self_ref_.IsEmpty()) self_ref_ = Napi::Persistent(Value());
    }
    return env.Undefined();
  }

  void StopPolling() {
    if (poll_ != nullptr && polling_) uv_poll_stop(poll_);
    polling_ = false;
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    StopPolling();
    if (!self_ref_.IsEmpty()) self_ref_.Reset();
    return info.Env().Undefined();
  }

  void DoClose() {
    if (closed_) return;
    closed_ = true;
    StopPolling();
    if (poll_ != nullptr) {
      // The fd must stay open until libuv has let go of the handle.
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
      poll_ = nullptr;
    }
    // a send on the pool still uses the fd: SendDone closes it after the last one
    if (inflight_ == 0) CloseFd();
    on_batch_.Reset();
    on_error_.Reset();
    if (!self_ref_.IsEmpty()) self_ref_.Reset();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    DoClose();
    return info.Env().Undefined();
  }

  // Calls a JS callback with one number; returns false when the callback threw (the exception
  // is re-raised as uncaught) or closed the socket.
  bool CallJs(Napi::FunctionReference& fn, double arg) {
    Napi::Env env(env_);
    if (fn.IsEmpty()) return !closed_;
    napi_value recv = self_ref_.IsEmpty() ? env.Global() : self_ref_.Value();
    napi_value argv[1] = {Napi::Number::New(env, arg)};
    napi_value result;
    // napi_make_callback runs the microtask queue afterwards, like any Node I/O callback.
    napi_status st = napi_make_callback(env_, nullptr, recv, fn.Value(), 1, argv, &result);
    if (st != napi_ok) RethrowPending(env);
    return !closed_ && fd_ >= 0;
  }

  static void OnPoll(uv_poll_t* handle, int status, int events) {
    NlSocket* self = static_cast<NlSocket*>(handle->data);
    Napi::Env env(self->env_);
    Napi::HandleScope scope(env);
    if (status < 0) {
      // libuv turns POLLERR into UV_EBADF and stops the handle. For netlink this means sk_err
      // is set, almost always ENOBUFS (overrun). Fetch and clear it, report, re-arm.
      int soerr = 0;
      socklen_t l = sizeof soerr;
      if (self->fd_ >= 0) getsockopt(self->fd_, SOL_SOCKET, SO_ERROR, &soerr, &l);
      self->polling_ = false;
      self->poll_errors_++;
      if (self->fd_ >= 0 && !self->closed_) {
        if (uv_poll_start(handle, UV_READABLE, OnPoll) == 0) self->polling_ = true;
      }
      if (soerr != 0) {
        if (soerr == ENOBUFS) self->overruns_++;
        if (!self->CallJs(self->on_error_, soerr)) return;
      }
    }
    // Read until the queue is empty, bounded per wake-up so timers and other I/O still run;
    // level-triggered polling brings us back if more is queued.
    for (int round = 0; round < 16 && self->fd_ >= 0 && !self->closed_; round++) {
      int n = self->ReadRound();
      if (n == 0) break;
      if (n < 0) {
        if (!self->CallJs(self->on_error_, -n)) return;
        continue;  // ENOBUFS: the queue still holds data; keep reading
      }
      if (!self->CallJs(self->on_batch_, n)) return;
      if (n < self->slots_) break;
    }
  }
};

// unixDgramSend(path, data): one sendto on a fresh AF_UNIX SOCK_DGRAM socket. A path starting
// with '@' names an abstract socket (systemd NOTIFY_SOCKET convention).
Napi::Value UnixDgramSend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>().Utf8Value();
  Napi::Uint8Array data = info[1].As<Napi::Uint8Array>();
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof sa.sun_path) {
    Napi::RangeError::New(env, "unixDgramSend: bad socket path length").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  memcpy(sa.sun_path, path.data(), path.size());
  if (path[0] == '@') sa.sun_path[0] = '\0';
  socklen_t salen = static_cast<socklen_t>(offsetof(struct sockaddr_un, sun_path) + path.size());
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ThrowErrno(env, errno, "socket");
  ssize_t n;
  do {
    n = sendto(fd, data.Data(), data.ByteLength(), MSG_NOSIGNAL, reinterpret_cast<struct sockaddr*>(&sa), salen);
  } while (n < 0 && errno == EINTR);
  int e = errno;
  ::close(fd);
  if (n < 0) return ThrowErrno(env, e, "sendto");
  return env.Undefined();
}

Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  exports.Set("NlSocket", NlSocket::Init(env));
  exports.Set("unixDgramSend", Napi::Function::New(env, UnixDgramSend, "unixDgramSend"));
  return exports;
}

}  // namespace

NODE_API_MODULE(nlsock, InitModule)
