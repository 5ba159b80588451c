#include "http_headers.h"

#include <gtest/gtest.h>

#include <string>

namespace tern::http {
namespace {

std::string http_date(std::int64_t t) {
  char b[kHttpDateLen];
  format_http_date(t, b);
  return {b, kHttpDateLen};
}

std::string clf_date(std::int64_t t) {
  char b[kClfDateLen];
  format_clf_date(t, b);
  return {b, kClfDateLen};
}

TEST(HttpDate, FormatsImfFixdate) {
  EXPECT_EQ(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(http_date(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");  // RFC 9110 §5.6.7's example
  EXPECT_EQ(http_date(951782400), "Tue, 29 Feb 2000 00:00:00 GMT");  // a leap day of a century year
  EXPECT_EQ(http_date(1796481596), "Sat, 05 Dec 2026 14:39:56 GMT");
  EXPECT_EQ(http_date(-5), http_date(0));  // clamped, never garbage
}

TEST(HttpDate, ParsesWhatItFormats) {
  for (std::int64_t t : {0LL, 784111777LL, 951782400LL, 1796481596LL, 4102444799LL}) {
    const auto back = parse_http_date(http_date(t));
    ASSERT_TRUE(back.has_value()) << t;
    EXPECT_EQ(*back, t);
  }
}

TEST(HttpDate, RejectsOtherFormsAndImpossibleDates) {
  EXPECT_FALSE(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"));  // RFC 850: not accepted, ignored
  EXPECT_FALSE(parse_http_date("Sun Nov  6 08:49:37 1994"));        // asctime
  EXPECT_FALSE(parse_http_date("Sun, 06 Nov 1994 08:49:37 UTC"));
  EXPECT_FALSE(parse_http_date("Sun, 31 Feb 1994 08:49:37 GMT"));
  EXPECT_FALSE(parse_http_date("Sun, 06 Nov 1994 24:49:37 GMT"));
  EXPECT_FALSE(parse_http_date("Sun, 06 Xyz 1994 08:49:37 GMT"));
  EXPECT_FALSE(parse_http_date(""));
}

TEST(ClfDate, FormatsTheCommonLogTime) {
  EXPECT_EQ(clf_date(971186136), "10/Oct/2000:13:55:36 +0000");
  EXPECT_EQ(clf_date(0), "01/Jan/1970:00:00:00 +0000");
}

TEST(Etag, FromMtimeAndSizeAsNginx) {
  char b[kEtagCap];
  const std::size_t n = format_etag(0x5f5e1000, 0x1234, b);
  EXPECT_EQ(std::string(b, n), "\"5f5e1000-1234\"");
}

TEST(IfNoneMatch, WeakComparisonOverAList) {
  const std::string_view etag = "\"5f-12\"";
  EXPECT_TRUE(none_match_hits("\"5f-12\"", etag));
  EXPECT_TRUE(none_match_hits("W/\"5f-12\"", etag));  // weak comparison (RFC 9110 §13.1.2)
  EXPECT_TRUE(none_match_hits("\"a\", \"5f-12\" , \"b\"", etag));
  EXPECT_TRUE(none_match_hits(" * ", etag));
  EXPECT_FALSE(none_match_hits("\"5f-13\"", etag));
  EXPECT_FALSE(none_match_hits("5f-12", etag));  // not quoted: no entity-tag
  EXPECT_FALSE(none_match_hits("", etag));
}

TEST(IfRange, StrongComparisonOnly) {
  EXPECT_TRUE(strong_match("\"5f-12\"", "\"5f-12\""));
  EXPECT_FALSE(strong_match("W/\"5f-12\"", "\"5f-12\""));
  EXPECT_FALSE(strong_match("\"5f-13\"", "\"5f-12\""));
}

RangeResult range(std::string_view f, std::uint64_t size) { return parse_range(f, size); }

TEST(Range, SingleRanges) {
  RangeResult r = range("bytes=0-99", 1000);
  ASSERT_EQ(r.status, RangeStatus::kSatisfiable);
  EXPECT_EQ(r.first, 0u);
  EXPECT_EQ(r.last, 99u);
  r = range("bytes=500-", 1000);  // curl -C - resumes like this
  ASSERT_EQ(r.status, RangeStatus::kSatisfiable);
  EXPECT_EQ(r.first, 500u);
  EXPECT_EQ(r.last, 999u);
  r = range("bytes=-100", 1000);  // the last 100
  ASSERT_EQ(r.status, RangeStatus::kSatisfiable);
  EXPECT_EQ(r.first, 900u);
  EXPECT_EQ(r.last, 999u);
  r = range("bytes=-5000", 1000);  // more than there is: all of it
  ASSERT_EQ(r.status, RangeStatus::kSatisfiable);
  EXPECT_EQ(r.first, 0u);
  r = range("Bytes=990-5000", 1000);  // the unit is case-insensitive; last clamped
  ASSERT_EQ(r.status, RangeStatus::kSatisfiable);
  EXPECT_EQ(r.first, 990u);
  EXPECT_EQ(r.last, 999u);
}

TEST(Range, UnsatisfiableGets416) {
  EXPECT_EQ(range("bytes=1000-", 1000).status, RangeStatus::kUnsatisfiable);
  EXPECT_EQ(range("bytes=1000-2000", 1000).status, RangeStatus::kUnsatisfiable);
  EXPECT_EQ(range("bytes=-0", 1000).status, RangeStatus::kUnsatisfiable);
  EXPECT_EQ(range("bytes=0-", 0).status, RangeStatus::kUnsatisfiable);  // an empty file has no byte 0
}

TEST(Range, MalformedOrSeveralAreIgnored) {
  for (const char* f : {"bytes=5-4", "bytes=a-b", "bytes=", "bytes=-", "items=0-5", "bytes 0-5",
                        "bytes=0-1,5-6", "bytes=99999999999999999999-"})
    EXPECT_EQ(range(f, 1000).status, RangeStatus::kIgnore) << f;
}

TEST(ContentType, ByExtensionCaseInsensitive) {
  EXPECT_STREQ(content_type("/a/index.html"), "text/html; charset=utf-8");
  EXPECT_STREQ(content_type("/A.HTML"), "text/html; charset=utf-8");
  EXPECT_STREQ(content_type("/x.svg"), "image/svg+xml");
  EXPECT_STREQ(content_type("/x.woff2"), "font/woff2");
  EXPECT_STREQ(content_type("/x.jpeg"), "image/jpeg");
  EXPECT_STREQ(content_type("/x.wasm"), "application/wasm");
  EXPECT_STREQ(content_type("/x.mp4"), "video/mp4");
  EXPECT_STREQ(content_type("/noext"), "application/octet-stream");
  EXPECT_STREQ(content_type("/html"), "application/octet-stream");
}

std::string line(std::string_view method, std::string_view target, int status, std::uint64_t bytes,
                 std::size_t cap = 512) {
  char date[kClfDateLen];
  format_clf_date(971186136, date);
  char out[512];
  const std::size_t n =
      format_access_line(out, cap, IpAddr::v4(0x0a000002), date, method, target, 1, status, bytes);
  return {out, n};
}

TEST(AccessLine, CommonLogFormat) {
  EXPECT_EQ(line("GET", "/a.html", 200, 2326),
            "10.0.0.2 - - [10/Oct/2000:13:55:36 +0000] \"GET /a.html HTTP/1.1\" 200 2326\n");
  EXPECT_EQ(line("HEAD", "/", 304, 0),
            "10.0.0.2 - - [10/Oct/2000:13:55:36 +0000] \"HEAD / HTTP/1.1\" 304 -\n");
  EXPECT_EQ(line("", "", 400, 16), "10.0.0.2 - - [10/Oct/2000:13:55:36 +0000] \"-\" 400 16\n");
}

TEST(AccessLine, Ipv6ClientInRfc5952Form) {
  char date[kClfDateLen];
  format_clf_date(971186136, date);
  char out[512];
  const std::size_t n =
      format_access_line(out, sizeof out, *IpAddr::parse("2001:DB8:0:0::5"), date, "GET", "/", 1, 200, 5);
  EXPECT_EQ(std::string(out, n), "2001:db8::5 - - [10/Oct/2000:13:55:36 +0000] \"GET / HTTP/1.1\" 200 5\n");
}

TEST(AccessLine, QuotesAndBackslashesEscaped) {
  EXPECT_EQ(line("GET", "/a\"b\\c", 404, 14),
            "10.0.0.2 - - [10/Oct/2000:13:55:36 +0000] \"GET /a\\x22b\\x5Cc HTTP/1.1\" 404 14\n");
}

TEST(AccessLine, TooLongIsDroppedWhole) {
  EXPECT_EQ(line("GET", "/a.html", 200, 1, 40), "");
  const std::string full = line("GET", "/a.html", 200, 1);
  EXPECT_EQ(line("GET", "/a.html", 200, 1, full.size()), full);
  EXPECT_EQ(line("GET", "/a.html", 200, 1, full.size() - 1), "");
}

}  // namespace
}  // namespace tern::http
