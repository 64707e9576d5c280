#pragma once
// Writes JSON text straight into a string, for the hot paths that only produce JSON (issue 6: building and
// dumping nlohmann::json documents was a quarter of the server's CPU on the order path, most of it for
// documents that are written once and never read). Commas are placed by looking at the last character: after
// '{', '[' or ':' none is needed. Strings are escaped as RFC 8259 requires ('"', '\\' and control characters);
// other bytes, UTF-8 included, are copied as they are (the text comes from validated requests and PostgreSQL).
//   JsonOut j;
//   j.begin_object().key("orderId").value(id).key("items").raw(items_json).end_object();
//   std::string text = j.take();
// JSON sent to PostgreSQL as `jsonb` (the batches, the outbox's payloads, the stored snapshots) is written with its
// keys in jsonb's own order: shorter keys first, keys of one length by their bytes. jsonb_in sorts every object's
// keys, and input already in that order costs it one comparison a key instead of a sort (issue 6: ~25 % of jsonb_in's
// time for a group commit's batch, measured in docs/performance.md). The order of JSON keys means nothing else.
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace om {

class JsonOut {
public:
    // Room for a typical document (an event, a response, a batch's element) from the start: appended to from
    // empty, a string grows 15, 30, 60, ... bytes, one allocation and copy each time.
    JsonOut() { out_.reserve(512); }

    JsonOut& begin_object() {
        separate();
        out_ += '{';
        return *this;
    }
    JsonOut& end_object() {
        out_ += '}';
        return *this;
    }
    JsonOut& begin_array() {
        separate();
        out_ += '[';
        return *this;
    }
    JsonOut& end_array() {
        out_ += ']';
        return *this;
    }
    JsonOut& key(std::string_view k) {
        quoted(k, ':');
        return *this;
    }
    JsonOut& value(std::string_view s) {
        quoted(s, '\0');
        return *this;
    }
    JsonOut& value(const char* s) { return value(std::string_view(s)); }
    JsonOut& value(const std::string& s) { return value(std::string_view(s)); }
    JsonOut& value(std::int64_t n) {
        separate();
        out_ += std::to_string(n);
        return *this;
    }
    JsonOut& value(int n) { return value(static_cast<std::int64_t>(n)); }
    JsonOut& value(bool b) {
        separate();
        out_ += b ? "true" : "false";
        return *this;
    }
    JsonOut& value(const std::optional<std::string>& s) { return s ? value(std::string_view(*s)) : null(); }
    // An array of strings.
    JsonOut& strings(const std::vector<std::string>& v) {
        begin_array();
        for (const auto& s : v) {
            value(std::string_view(s));
        }
        return end_array();
    }
    JsonOut& null() {
        separate();
        out_ += "null";
        return *this;
    }
    // A value that is JSON text already (e.g. a jsonb column as PostgreSQL printed it).
    JsonOut& raw(std::string_view json) {
        separate();
        out_ += json;
        return *this;
    }

    [[nodiscard]] const std::string& str() const noexcept { return out_; }
    std::string take() { return std::move(out_); }

private:
    [[nodiscard]] bool needs_comma() const noexcept {
        if (out_.empty()) {
            return false;
        }
        const char last = out_.back();
        return last != '{' && last != '[' && last != ':';
    }
    void separate() {
        if (needs_comma()) {
            out_ += ',';
        }
    }
    // Characters written as they are inside a string: not '"', '\\' or a control character.
    static constexpr std::array<bool, 256> kPlain = [] {
        std::array<bool, 256> t{};
        for (std::size_t c = 0x20; c < 256; ++c) {
            t[c] = c != '"' && c != '\\';
        }
        return t;
    }();
    // Where the run of plain characters from `from` ends (s.size() if it does not). Eight bytes at a time: a byte
    // is flagged when it is below 0x20 or equal to '"' or '\\' (for each test, (x - k) & ~x has the high bit of
    // a byte set exactly at the first byte that passes it; a borrow only flags bytes after a true one), so the
    // lowest flagged byte is the first that needs an escape (issue 6: quoted() was ~3 % of the server's instructions,
    // for strings that are mostly ids and names with nothing to escape).
    static std::size_t plain_run(std::string_view s, std::size_t from) noexcept {
        if constexpr (std::endian::native == std::endian::little) {
            constexpr std::uint64_t ones = 0x0101010101010101ULL;
            constexpr std::uint64_t highs = 0x8080808080808080ULL;
            while (from + 8 <= s.size()) {
                std::uint64_t w = 0;
                std::memcpy(&w, s.data() + from, 8);
                const std::uint64_t quote = w ^ (ones * static_cast<std::uint64_t>('"'));
                const std::uint64_t backslash = w ^ (ones * static_cast<std::uint64_t>('\\'));
                const std::uint64_t flagged =
                    (((w - ones * 0x20) & ~w) | ((quote - ones) & ~quote) | ((backslash - ones) & ~backslash)) & highs;
                if (flagged != 0) {
                    return from + static_cast<std::size_t>(std::countr_zero(flagged)) / 8;
                }
                from += 8;
            }
        }
        while (from < s.size() && kPlain[static_cast<unsigned char>(s[from])]) {
            ++from;
        }
        return from;
    }
    // The separator (if one is due), then s quoted, then `after` (':' after a key; '\0': nothing). A string that
    // needs no escape (nearly all: ids, keys, names) is written with one resize of the buffer.
    void quoted(std::string_view s, char after) {
        const bool comma = needs_comma();
        if (plain_run(s, 0) == s.size()) {
            const std::size_t n = s.size() + 2 + (comma ? 1 : 0) + (after != '\0' ? 1 : 0);
            const std::size_t at = out_.size();
            out_.resize(at + n);
            char* p = out_.data() + at;
            if (comma) {
                *p++ = ',';
            }
            *p++ = '"';
            if (!s.empty()) {
                std::memcpy(p, s.data(), s.size());
                p += s.size();
            }
            *p++ = '"';
            if (after != '\0') {
                *p = after;
            }
            return;
        }
        if (comma) {
            out_ += ',';
        }
        out_ += '"';
        std::size_t i = 0;
        while (i < s.size()) {
            // A run of characters that need no escape is appended at once.
            const std::size_t run = plain_run(s, i);
            out_.append(s.data() + i, run - i);
            if (run == s.size()) {
                break;
            }
            const char c = s[run];
            switch (c) {
                case '"': out_ += "\\\""; break;
                case '\\': out_ += "\\\\"; break;
                case '\n': out_ += "\\n"; break;
                case '\r': out_ += "\\r"; break;
                case '\t': out_ += "\\t"; break;
                case '\b': out_ += "\\b"; break;
                case '\f': out_ += "\\f"; break;
                default: {
                    static constexpr char hex[] = "0123456789abcdef";
                    out_ += "\\u00";
                    out_ += hex[(static_cast<unsigned char>(c) >> 4) & 0xF];
                    out_ += hex[static_cast<unsigned char>(c) & 0xF];
                }
            }
            i = run + 1;
        }
        out_ += '"';
        if (after != '\0') {
            out_ += after;
        }
    }

    std::string out_;
};

}  // namespace om
