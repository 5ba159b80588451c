#include "http_parser.h"

#include <gtest/gtest.h>

#include <string>

#include "http_pattern.h"

namespace tern::http {
namespace {

constexpr std::size_t kCap = 8192;

ParseResult parse(std::string_view s) { return parse_request(s, kCap); }

TEST(HttpParser, SimpleGet) {
  const std::string req = "GET /bytes/10 HTTP/1.1\r\nHost: a\r\nUser-Agent: x\r\n\r\n";
  const ParseResult r = parse(req);
  ASSERT_EQ(r.status, ParseStatus::kComplete);
  EXPECT_EQ(r.req.method, "GET");
  EXPECT_EQ(r.req.target, "/bytes/10");
  EXPECT_EQ(r.req.version_minor, 1);
  EXPECT_TRUE(r.req.keep_alive);
  EXPECT_EQ(r.req.head_len, req.size());
  EXPECT_EQ(r.req.content_length, 0u);
}

TEST(HttpParser, ConditionalAndRangeFields) {
  const std::string req =
      "GET /f HTTP/1.1\r\nHost: a\r\nif-none-match:  \"1-2\", W/\"3\" \r\nIf-Modified-Since: Sun, 06 Nov "
      "1994 "
      "08:49:37 GMT\r\nRANGE: bytes=5-\r\nIf-Range: \"1-2\"\r\nIf-None-Match: \"later\"\r\n\r\n";
  const ParseResult r = parse(req);
  ASSERT_EQ(r.status, ParseStatus::kComplete);
  EXPECT_EQ(r.req.if_none_match, "\"1-2\", W/\"3\"");  // trimmed; the first field kept
  EXPECT_EQ(r.req.if_modified_since, "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(r.req.range, "bytes=5-");
  EXPECT_EQ(r.req.if_range, "\"1-2\"");
  const ParseResult none = parse("GET /f HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_EQ(none.status, ParseStatus::kComplete);
  EXPECT_TRUE(none.req.range.empty() && none.req.if_none_match.empty() &&
              none.req.if_modified_since.empty() && none.req.if_range.empty());
}

TEST(HttpParser, TwoRangeFieldsAreBad) {
  EXPECT_EQ(parse("GET /f HTTP/1.1\r\nHost: a\r\nRange: bytes=0-1\r\nRange: bytes=2-3\r\n\r\n").status,
            ParseStatus::kBad);
  EXPECT_EQ(parse("GET /f HTTP/1.1\r\nHost: a\r\nIf-Range: \"a\"\r\nIf-Range: \"b\"\r\n\r\n").status,
            ParseStatus::kBad);
}

TEST(HttpParser, EveryPrefixIsIncomplete) {
  const std::string req = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  for (std::size_t i = 0; i < req.size(); ++i)
    EXPECT_EQ(parse(req.substr(0, i)).status, ParseStatus::kIncomplete) << i;
}

TEST(HttpParser, PipelinedRequestsParseOneAtATime) {
  const std::string a = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n";
  const std::string b = "HEAD /b HTTP/1.1\r\nHost: h\r\n\r\n";
  const std::string both = a + b;
  const ParseResult r1 = parse(both);
  ASSERT_EQ(r1.status, ParseStatus::kComplete);
  EXPECT_EQ(r1.req.head_len, a.size());
  const ParseResult r2 = parse(std::string_view{both}.substr(r1.req.head_len));
  ASSERT_EQ(r2.status, ParseStatus::kComplete);
  EXPECT_EQ(r2.req.method, "HEAD");
  EXPECT_EQ(r2.req.target, "/b");
}

TEST(HttpParser, BareLfAndLeadingEmptyLines) {
  const std::string req = "\r\n\nGET /x HTTP/1.1\nHost: a\n\n";
  const ParseResult r = parse(req);
  ASSERT_EQ(r.status, ParseStatus::kComplete);
  EXPECT_EQ(r.req.skipped, 3u);
  EXPECT_EQ(r.req.head_len, req.size());
}

TEST(HttpParser, ConnectionSemantics) {
  EXPECT_FALSE(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").req.keep_alive);
  EXPECT_FALSE(parse("GET / HTTP/1.1\r\nHost: a\r\nconnection: Upgrade, CLOSE\r\n\r\n").req.keep_alive);
  EXPECT_FALSE(parse("GET / HTTP/1.0\r\n\r\n").req.keep_alive);
  const ParseResult r = parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  ASSERT_EQ(r.status, ParseStatus::kComplete);
  EXPECT_TRUE(r.req.keep_alive);
  EXPECT_EQ(r.req.version_minor, 0);
}

TEST(HttpParser, ContentLength) {
  const ParseResult r = parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n");
  ASSERT_EQ(r.status, ParseStatus::kComplete);
  EXPECT_EQ(r.req.content_length, 12u);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n").status,
            ParseStatus::kBad);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n").status, ParseStatus::kBad);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n").status, ParseStatus::kBad);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n").status,
            ParseStatus::kBadFraming);
}

TEST(HttpParser, Malformed) {
  for (const char* s : {
           "GARBAGE\r\n\r\n", "GET /\r\n\r\n", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
           "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", "GET / http/1.1\r\nHost: a\r\n\r\n",
           "GET / HTTP/1\r\nHost: a\r\n\r\n", "GET x HTTP/1.1\r\nHost: a\r\n\r\n",
           "GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n",
           "GET / HTTP/1.1\r\n\r\n",                        // no Host in 1.1
           "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",  // two Hosts
           "GET / HTTP/1.1\r\nHost : a\r\n\r\n",            // space before the colon
           "GET / HTTP/1.1\r\nHost: a\r\nX\r\n\r\n",        // no colon
           "GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",  // obs-fold
           "GET / HTTP/1.1\r\nHost: a\x01\r\n\r\n",         // CTL in a value
       })
    EXPECT_EQ(parse(s).status, ParseStatus::kBad) << s;
  EXPECT_EQ(parse("GET / HTTP/2.0\r\nHost: a\r\n\r\n").status, ParseStatus::kBadVersion);
}

TEST(HttpParser, MalformedRequestLineIsSeenBeforeTheHeadEnds) {
  EXPECT_EQ(parse("GARBAGE\r\n").status, ParseStatus::kBad);
}

TEST(HttpParser, HeadOverTheCapIsTooLarge) {
  std::string req = "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(kCap, 'x');
  EXPECT_EQ(parse(req).status, ParseStatus::kTooLarge);
  EXPECT_EQ(parse(req.substr(0, kCap - 1)).status, ParseStatus::kIncomplete);
  req += "\r\n\r\n";
  EXPECT_EQ(parse(req).status, ParseStatus::kTooLarge);
  // A long request line alone counts too.
  EXPECT_EQ(parse("GET /" + std::string(kCap, 'a')).status, ParseStatus::kTooLarge);
}

TEST(HttpParser, HeadEndingExactlyAtTheCapIsComplete) {
  std::string req = "GET / HTTP/1.1\r\nHost: a\r\nX: ";
  req += std::string(kCap - req.size() - 4, 'y') + "\r\n\r\n";
  ASSERT_EQ(req.size(), kCap);
  EXPECT_EQ(parse(req).status, ParseStatus::kComplete);
}

std::string decode(std::string_view t, bool* ok) {
  char out[64];
  std::size_t n = 0;
  *ok = decode_path(t, out, sizeof(out), &n);
  return *ok ? std::string{out, n} : std::string{};
}

TEST(HttpPath, DecodesAndDropsQuery) {
  bool ok = false;
  EXPECT_EQ(decode("/a%20b/c.txt?x=1", &ok), "/a b/c.txt");
  EXPECT_TRUE(ok);
  EXPECT_EQ(decode("/", &ok), "/");
  EXPECT_TRUE(ok);
  EXPECT_EQ(decode("/a..b/...", &ok), "/a..b/...");
  EXPECT_TRUE(ok);
}

TEST(HttpPath, RejectsTraversalAndBadEscapes) {
  bool ok = true;
  for (const char* t : {"/..", "/../etc/passwd", "/a/../b", "/a/%2e%2E/b", "/%2e%2e", "/./a", "/a/.", "/%00",
                        "/%4", "/%zz", "a", ""}) {
    decode(t, &ok);
    EXPECT_FALSE(ok) << t;
  }
  decode(("/" + std::string(100, 'a')).c_str(), &ok);
  EXPECT_FALSE(ok);  // longer than the output
}

TEST(HttpPattern, MatchesTheDocumentedLcg) {
  const auto& b = pattern_block();
  std::uint64_t x = 1;
  for (std::size_t k = 0; k < kPatternPeriod; ++k) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    ASSERT_EQ(static_cast<unsigned>(b[k]), (x >> 16) & 0xff) << k;
  }
}

}  // namespace
}  // namespace tern::http
