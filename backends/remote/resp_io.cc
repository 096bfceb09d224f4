// RESP writes gathered from the caller's memory and reads into caller
// buffers, over any RespTransport (resp_io.h).
#include "backends/remote/resp_io.h"

#include <sys/uio.h>

#include <charconv>
#include <cstring>

namespace kvtier::internal {
namespace {

// Values at least this long are sent from the caller's memory; shorter
// pieces are gathered into one header buffer.
constexpr size_t kBorrowBytes = 4096;

struct Piece {
  bool borrowed = false;
  size_t offset = 0;  // in the header buffer
  const char* data = nullptr;
  size_t size = 0;
};

void AppendHeader(std::string& small, std::vector<Piece>& pieces, std::string_view text) {
  if (!pieces.empty() && !pieces.back().borrowed) {
    pieces.back().size += text.size();
  } else {
    pieces.push_back(Piece{false, small.size(), nullptr, text.size()});
  }
  small.append(text);
}

}  // namespace

Status WriteCommands(RespTransport& transport,
                     std::span<const std::vector<std::string_view>* const> commands) {
  std::string small;
  std::vector<Piece> pieces;
  for (const std::vector<std::string_view>* args : commands) {
    AppendHeader(small, pieces, "*" + std::to_string(args->size()) + "\r\n");
    for (const std::string_view a : *args) {
      AppendHeader(small, pieces, "$" + std::to_string(a.size()) + "\r\n");
      if (a.size() >= kBorrowBytes) {
        pieces.push_back(Piece{true, 0, a.data(), a.size()});
      } else {
        AppendHeader(small, pieces, a);
      }
      AppendHeader(small, pieces, "\r\n");
    }
  }
  std::vector<iovec> iov;
  iov.reserve(pieces.size());
  for (const Piece& p : pieces) {
    const char* base = p.borrowed ? p.data : small.data() + p.offset;
    iov.push_back(iovec{const_cast<char*>(base), p.size});
  }
  return transport.WriteAll(iov);
}

Status RespReader::Fill() {
  if (begin_ > 0) {
    std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  size_t got = 0;
  Status s = transport_.ReadSome(reinterpret_cast<std::byte*>(buffer_.data()) + end_,
                                 buffer_.size() - end_, &got);
  end_ += got;
  return s;
}

Status RespReader::ReadLine(std::string_view* line) {
  for (;;) {
    const char* start = buffer_.data() + begin_;
    const void* cr = std::memchr(start, '\r', end_ - begin_);
    if (cr != nullptr) {
      const size_t len = static_cast<const char*>(cr) - start;
      if (begin_ + len + 1 < end_) {  // the '\n' is here too
        line_.assign(start, len);
        begin_ += len + 2;
        *line = line_;
        return Status::Ok();
      }
    }
    if (end_ - begin_ == buffer_.size()) {
      return Unavailable("redis: a reply line longer than " +
                         std::to_string(buffer_.size()) + " bytes");
    }
    if (Status s = Fill(); !s.ok()) return s;
  }
}

Status RespReader::ReadExact(std::byte* dst, size_t n) {
  const size_t buffered = std::min(n, end_ - begin_);
  std::memcpy(dst, buffer_.data() + begin_, buffered);
  begin_ += buffered;
  size_t done = buffered;
  while (done < n) {  // straight from the connection into the destination
    size_t got = 0;
    if (Status s = transport_.ReadSome(dst + done, n - done, &got); !s.ok()) return s;
    done += got;
  }
  return Status::Ok();
}

Status RespReader::Next(std::span<std::byte> sink, RespReply* reply) {
  return NextAt(0, sink, reply);
}

Status RespReader::ReadArray(int depth, int64_t count, RespReply* reply) {
  if (count < 0) {  // a nil array
    reply->kind = RespReply::Kind::kNil;
    return Status::Ok();
  }
  if (depth >= RespReply::kMaxArrayDepth) {
    return Unavailable("redis: a reply with arrays nested deeper than " +
                       std::to_string(RespReply::kMaxArrayDepth));
  }
  reply->kind = RespReply::Kind::kArray;
  for (int64_t i = 0; i < count; ++i) {
    RespReply element;
    if (Status s = NextAt(depth + 1, {}, &element); !s.ok()) return s;
    reply->elements.push_back(std::move(element));
  }
  return Status::Ok();
}

Status RespReader::NextAt(int depth, std::span<std::byte> sink, RespReply* reply) {
  *reply = RespReply{};
  std::string_view line;
  if (Status s = ReadLine(&line); !s.ok()) return s;
  if (line.empty()) return Unavailable("redis: an empty reply line");
  const char type = line[0];
  const std::string_view rest = line.substr(1);
  int64_t number = 0;
  const bool numeric =
      std::from_chars(rest.data(), rest.data() + rest.size(), number).ec == std::errc();
  switch (type) {
    case '+':
      reply->kind = RespReply::Kind::kStatus;
      reply->text.assign(rest);
      return Status::Ok();
    case '-':
      reply->kind = RespReply::Kind::kError;
      reply->text.assign(rest);
      return Status::Ok();
    case ':':
      if (!numeric) break;
      reply->kind = RespReply::Kind::kInteger;
      reply->integer = number;
      return Status::Ok();
    case '$': {
      if (!numeric) break;
      if (number < 0) {
        reply->kind = RespReply::Kind::kNil;
        return Status::Ok();
      }
      const size_t n = static_cast<size_t>(number);
      reply->kind = RespReply::Kind::kBulk;
      reply->bulk_bytes = n;
      std::byte* dst = nullptr;
      if (n <= sink.size()) {
        reply->in_sink = true;
        dst = sink.data();
      } else {
        reply->text.resize(n);
        dst = reinterpret_cast<std::byte*>(reply->text.data());
      }
      if (Status s = ReadExact(dst, n); !s.ok()) return s;
      std::byte crlf[2];
      return ReadExact(crlf, 2);
    }
    case '*':
      if (!numeric) break;
      return ReadArray(depth, number, reply);
    default:
      break;
  }
  return Unavailable("redis: a reply this client does not read: '" + std::string(line) +
                     "'");
}

}  // namespace kvtier::internal
