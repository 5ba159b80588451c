#include "wire/ipv6.h"

#include <cassert>

#include "wire/checksum.h"
#include "wire/ipv4.h"

namespace tern {
namespace {

int hex_digit(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// "a.b.c.d", each part 0-255 in decimal without leading zeros.
bool parse_dotted_quad(std::string_view s, std::uint8_t out[4]) noexcept {
  std::size_t i = 0;
  for (int part = 0; part < 4; ++part) {
    if (part > 0) {
      if (i >= s.size() || s[i] != '.') return false;
      ++i;
    }
    const std::size_t start = i;
    unsigned v = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i - start < 3) v = v * 10 + (s[i++] - '0');
    if (i == start || v > 255 || (s[start] == '0' && i - start > 1)) return false;
    out[part] = static_cast<std::uint8_t>(v);
  }
  return i == s.size();
}

std::size_t put_decimal(char* out, unsigned v) noexcept {
  char tmp[3];
  std::size_t n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  for (std::size_t i = 0; i < n; ++i) out[i] = tmp[n - 1 - i];
  return n;
}

}  // namespace

std::size_t Ipv6Addr::format(std::span<char, kIpv6AddrMaxText> out) const noexcept {
  static constexpr char kHex[] = "0123456789abcdef";
  char* p = out.data();
  // RFC 5952 §5: IPv4-mapped addresses keep the dotted quad.
  const bool mapped = is_v4_mapped();
  const std::size_t groups = mapped ? 6 : 8;
  // RFC 5952 §4.2: the longest run of >= 2 zero groups, the first on a tie.
  std::size_t best = groups, best_len = 0;
  for (std::size_t i = 0; i < groups;) {
    if (group(i) != 0) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < groups && group(j) == 0) ++j;
    if (j - i > best_len) best = i, best_len = j - i;
    i = j;
  }
  if (best_len < 2) best = groups;
  for (std::size_t i = 0; i < groups;) {
    if (i == best) {
      *p++ = ':';
      *p++ = ':';
      i += best_len;
      continue;
    }
    if (i != 0 && i != best + best_len) *p++ = ':';
    const std::uint16_t g = group(i);
    bool started = false;
    for (int shift = 12; shift >= 0; shift -= 4) {  // §4.1: no leading zeros
      const unsigned nib = (g >> shift) & 0xF;
      if (nib != 0 || started || shift == 0) {
        *p++ = kHex[nib];
        started = true;
      }
    }
    ++i;
  }
  if (mapped) {
    if (best + best_len != groups) *p++ = ':';
    for (std::size_t i = 12; i < 16; ++i) {
      if (i != 12) *p++ = '.';
      p += put_decimal(p, b[i]);
    }
  }
  return static_cast<std::size_t>(p - out.data());
}

std::string Ipv6Addr::to_string() const {
  std::array<char, kIpv6AddrMaxText> buf;
  return std::string(buf.data(), format(buf));
}

std::optional<Ipv6Addr> Ipv6Addr::from_string(std::string_view s) noexcept {
  if (s.size() < 2 || s.size() > kIpv6AddrMaxText) return std::nullopt;
  std::array<std::uint16_t, 8> g{};
  std::size_t n = 0;  // groups parsed
  int gap = -1;       // index in g where "::" stands
  std::size_t i = 0;
  if (s[0] == ':') {
    if (s[1] != ':') return std::nullopt;  // a single leading colon
    gap = 0;
    i = 2;
  }
  while (i < s.size()) {
    // The token up to the next ':' (or the end).
    std::size_t end = s.find(':', i);
    if (end == std::string_view::npos) end = s.size();
    const std::string_view tok = s.substr(i, end - i);
    if (tok.find('.') != std::string_view::npos) {
      std::uint8_t q[4];
      if (end != s.size() || n > 6 || !parse_dotted_quad(tok, q)) return std::nullopt;
      g[n++] = static_cast<std::uint16_t>(q[0] << 8 | q[1]);
      g[n++] = static_cast<std::uint16_t>(q[2] << 8 | q[3]);
      i = end;
      break;
    }
    if (tok.empty() || tok.size() > 4 || n >= 8) return std::nullopt;
    unsigned v = 0;
    for (char c : tok) {
      const int d = hex_digit(c);
      if (d < 0) return std::nullopt;
      v = v << 4 | static_cast<unsigned>(d);
    }
    g[n++] = static_cast<std::uint16_t>(v);
    i = end;
    if (i == s.size()) break;
    ++i;  // the ':'
    if (i < s.size() && s[i] == ':') {
      if (gap >= 0) return std::nullopt;  // a second "::"
      gap = static_cast<int>(n);
      ++i;
    } else if (i == s.size()) {
      return std::nullopt;  // a single trailing colon
    }
  }
  if (gap < 0) {
    if (n != 8) return std::nullopt;
    return from_groups(g);
  }
  if (n > 7) return std::nullopt;  // "::" stands for at least one group
  std::array<std::uint16_t, 8> full{};
  const auto gp = static_cast<std::size_t>(gap);
  for (std::size_t k = 0; k < gp; ++k) full[k] = g[k];
  for (std::size_t k = gp; k < n; ++k) full[8 - (n - k)] = g[k];
  return from_groups(full);
}

std::uint32_t ipv6_pseudo_header_sum(const Ipv6Addr& src, const Ipv6Addr& dst, std::uint32_t upper_len,
                                     std::uint8_t next_header) noexcept {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < 8; ++i) sum += src.group(i) + dst.group(i);
  sum += (upper_len >> 16) + (upper_len & 0xFFFF) + next_header;
  return checksum_fold(sum);
}

Parsed<Ipv6Header> Ipv6Header::parse(std::span<const std::byte> b) noexcept {
  if (b.size() < kIpv6HeaderLen) return ParseError::kTruncated;
  if ((load_u8(b.data()) >> 4) != 6) return ParseError::kBadVersion;
  if (kIpv6HeaderLen + load_be16(b.data() + 4) > b.size()) return ParseError::kBadTotalLength;
  return Ipv6Header{b.data()};
}

void write_ipv6(std::span<std::byte> out, const Ipv6Fields& f) noexcept {
  assert(out.size() >= kIpv6HeaderLen);
  std::byte* p = out.data();
  store_be32(p, 6u << 28 | static_cast<std::uint32_t>(f.traffic_class) << 20 | (f.flow_label & 0xFFFFF));
  store_be16(p + 4, f.payload_len);
  store_u8(p + 6, f.next_header);
  store_u8(p + 7, f.hop_limit);
  f.src.store(p + 8);
  f.dst.store(p + 24);
}

std::string_view ipv6_ext_reason_name(Ipv6ExtReason r) noexcept {
  switch (r) {
    case Ipv6ExtReason::kNone:
      return "none";
    case Ipv6ExtReason::kTruncated:
      return "truncated";
    case Ipv6ExtReason::kTooManyHeaders:
      return "too_many_headers";
    case Ipv6ExtReason::kHopByHopNotFirst:
      return "hop_by_hop_not_first";
    case Ipv6ExtReason::kBadOptionLength:
      return "bad_option_length";
    case Ipv6ExtReason::kTooManyOptions:
      return "too_many_options";
    case Ipv6ExtReason::kTooMuchPadding:
      return "too_much_padding";
    case Ipv6ExtReason::kUnknownOption:
      return "unknown_option";
    case Ipv6ExtReason::kRoutingHeader:
      return "routing_header";
    case Ipv6ExtReason::kBadFragmentLength:
      return "bad_fragment_length";
    case Ipv6ExtReason::kFragmentTooLong:
      return "fragment_too_long";
  }
  return "unknown";
}

namespace {

Ipv6ExtWalk discard(Ipv6ExtWalk w, Ipv6ExtReason r) noexcept {
  w.verdict = Ipv6ExtVerdict::kDiscard;
  w.reason = r;
  return w;
}

Ipv6ExtWalk param_problem(Ipv6ExtWalk w, Ipv6ExtReason r, std::uint8_t code, std::size_t pointer) noexcept {
  w.verdict = Ipv6ExtVerdict::kParamProblem;
  w.reason = r;
  w.icmp_code = code;
  w.icmp_pointer = static_cast<std::uint32_t>(pointer);
  return w;
}

// The TLV-encoded options of a Hop-by-Hop or Destination Options header at
// pkt[off, off + len) (RFC 8200 §4.2). Returns kUpperLayer to go on.
Ipv6ExtWalk walk_options(const Ipv6ExtWalk& w, std::span<const std::byte> pkt, std::size_t off,
                         std::size_t len, bool multicast_dst) noexcept {
  const std::size_t end = off + len;
  std::size_t pad_run = 0, options = 0;
  for (std::size_t i = off + 2; i < end;) {
    const std::uint8_t type = load_u8(&pkt[i]);
    if (type == 0) {  // Pad1
      if (++pad_run > kIpv6MaxPadding) return discard(w, Ipv6ExtReason::kTooMuchPadding);
      ++i;
      continue;
    }
    if (i + 2 > end) return discard(w, Ipv6ExtReason::kBadOptionLength);
    const std::size_t olen = 2 + std::size_t{load_u8(&pkt[i + 1])};
    if (olen > end - i) return discard(w, Ipv6ExtReason::kBadOptionLength);
    if (type == 1) {  // PadN
      pad_run += olen;
      if (pad_run > kIpv6MaxPadding) return discard(w, Ipv6ExtReason::kTooMuchPadding);
      i += olen;
      continue;
    }
    pad_run = 0;
    if (++options > kIpv6MaxOptionsPerHeader) return discard(w, Ipv6ExtReason::kTooManyOptions);
    // Tern understands no option but padding (a host ignores Router Alert,
    // whose action bits 00 say skip). The two high bits say what to do.
    switch (type >> 6) {
      case 0:
        break;
      case 1:
        return discard(w, Ipv6ExtReason::kUnknownOption);
      case 2:
        return param_problem(w, Ipv6ExtReason::kUnknownOption, kIcmpv6ParamUnknownOption, i);
      default:
        if (multicast_dst) return discard(w, Ipv6ExtReason::kUnknownOption);
        return param_problem(w, Ipv6ExtReason::kUnknownOption, kIcmpv6ParamUnknownOption, i);
    }
    i += olen;
  }
  Ipv6ExtWalk ok = w;
  ok.verdict = Ipv6ExtVerdict::kUpperLayer;
  return ok;
}

}  // namespace

Ipv6ExtWalk walk_ipv6_extensions(const Ipv6Header& ip) noexcept {
  const auto pkt = ip.packet();
  const std::size_t end = pkt.size();
  const bool multicast_dst = ip.dst().is_multicast();
  Ipv6ExtWalk w;
  std::uint8_t nh = ip.next_header();
  std::size_t nh_ptr = 6;  // where the Next Header octet naming `nh` is
  std::size_t off = kIpv6HeaderLen;
  for (;;) {
    std::size_t len = 0;
    switch (nh) {
      case kIpv6NextHopByHop:
      case kIpv6NextDestOpts: {
        // RFC 8200 §4: Next Header 0 anywhere but in the fixed header is
        // treated as an unrecognised Next Header.
        if (nh == kIpv6NextHopByHop && nh_ptr != 6) {
          return param_problem(w, Ipv6ExtReason::kHopByHopNotFirst, kIcmpv6ParamUnknownNextHeader, nh_ptr);
        }
        if (end - off < 2) return discard(w, Ipv6ExtReason::kTruncated);
        len = (std::size_t{load_u8(&pkt[off + 1])} + 1) * 8;
        if (len > end - off) return discard(w, Ipv6ExtReason::kTruncated);
        const Ipv6ExtWalk r = walk_options(w, pkt, off, len, multicast_dst);
        if (r.verdict != Ipv6ExtVerdict::kUpperLayer) return r;
        break;
      }
      case kIpv6NextRouting: {
        if (end - off < 8) return discard(w, Ipv6ExtReason::kTruncated);
        len = (std::size_t{load_u8(&pkt[off + 1])} + 1) * 8;
        if (len > end - off) return discard(w, Ipv6ExtReason::kTruncated);
        // RFC 8200 §4.4: an unrecognised Routing Type with Segments Left 0 is
        // ignored; otherwise Parameter Problem code 0 at the Routing Type.
        // A host forwards nothing, so every type is unrecognised here, RH0
        // included (RFC 5095 §3).
        if (load_u8(&pkt[off + 3]) != 0) {
          return param_problem(w, Ipv6ExtReason::kRoutingHeader, kIcmpv6ParamErroneousField, off + 2);
        }
        break;
      }
      case kIpv6NextFragment: {
        if (end - off < 8) return discard(w, Ipv6ExtReason::kTruncated);
        len = 8;
        const std::uint16_t offset_flags = load_be16(&pkt[off + 2]);
        w.has_fragment = true;
        w.fragment_offset = offset_flags & 0xFFF8;
        w.more_fragments = (offset_flags & 1) != 0;
        w.fragment_id = load_be32(&pkt[off + 4]);
        // RFC 8200 §4.5: an atomic fragment is processed as a whole packet.
        if (w.fragment_offset == 0 && !w.more_fragments) break;
        const std::size_t frag_len = end - off - 8;
        if (w.more_fragments && frag_len % 8 != 0) {
          return param_problem(w, Ipv6ExtReason::kBadFragmentLength, kIcmpv6ParamErroneousField, 4);
        }
        // The reassembled payload: the unfragmentable headers, then the
        // fragmentable part up to this fragment's end.
        if ((off - kIpv6HeaderLen) + w.fragment_offset + frag_len > 0xFFFF) {
          return param_problem(w, Ipv6ExtReason::kFragmentTooLong, kIcmpv6ParamErroneousField, off + 2);
        }
        w.verdict = Ipv6ExtVerdict::kFragment;
        w.upper_protocol = load_u8(&pkt[off]);
        w.upper_offset = static_cast<std::uint16_t>(off + 8);
        w.next_header_pointer = static_cast<std::uint16_t>(off);
        return w;
      }
      default:
        w.verdict = Ipv6ExtVerdict::kUpperLayer;
        w.upper_protocol = nh;
        w.upper_offset = static_cast<std::uint16_t>(off);
        w.next_header_pointer = static_cast<std::uint16_t>(nh_ptr);
        return w;
    }
    // ext_headers counts the headers accepted, so it never exceeds the bound
    // callers (and the fuzzer) rely on.
    if (w.ext_headers == kIpv6MaxExtHeaders) return discard(w, Ipv6ExtReason::kTooManyHeaders);
    ++w.ext_headers;
    nh = load_u8(&pkt[off]);
    nh_ptr = off;
    off += len;
  }
}

bool ipv6_first_fragment_has_chain(std::span<const std::byte> packet, std::uint8_t next,
                                   std::size_t offset) noexcept {
  for (std::size_t headers = 0; headers <= kIpv6MaxExtHeaders; ++headers) {
    std::size_t len = 0;
    switch (next) {
      case kIpv6NextHopByHop:
      case kIpv6NextRouting:
      case kIpv6NextDestOpts:
        if (offset + 2 > packet.size()) return false;
        len = (static_cast<std::size_t>(load_u8(packet.data() + offset + 1)) + 1) * 8;
        break;
      case kIpv6NextAuth:  // RFC 4302 §2.2: in 4-octet units, minus 2
        if (offset + 2 > packet.size()) return false;
        len = (static_cast<std::size_t>(load_u8(packet.data() + offset + 1)) + 2) * 4;
        break;
      case kIpv6NextFragment:
        len = kIpv6FragmentHeaderLen;
        break;
      case kIpv6NextNone:
        return offset <= packet.size();
      case kIpv6NextEsp:
        return offset + 8 <= packet.size();
      case kIpProtoTcp:
        return offset + 20 <= packet.size();
      case kIpProtoUdp:
      case kIpProtoIcmpv6:
        return offset + 8 <= packet.size();
      default:
        return offset + 1 <= packet.size();
    }
    if (offset + len > packet.size()) return false;
    next = load_u8(packet.data() + offset);
    offset += len;
  }
  return false;
}

}  // namespace tern
