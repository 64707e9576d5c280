#pragma once
// Writes JSON text straight into a string, for the hot paths that only produce JSON (issue 6: building and
// dumping nlohmann::json documents was a quarter of the server's CPU on the order path, most of it for
// documents that are written once and never read). Commas are placed by looking at the last character: after
// '{', '[' or ':' none is needed. Strings are escaped as RFC 8259 requires ('"', '\\' and control characters);
// other bytes, UTF-8 included, are copied as they are (the text comes from validated requests and PostgreSQL).
//   JsonOut j;
//   j.begin_object().key("orderId").value(id).key("items").raw(items_json).end_object();
//   std::string text = j.take();
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace om {

class JsonOut {
public:
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
        separate();
        quoted(k);
        out_ += ':';
        return *this;
    }
    JsonOut& value(std::string_view s) {
        separate();
        quoted(s);
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
    void separate() {
        if (!out_.empty()) {
            const char last = out_.back();
            if (last != '{' && last != '[' && last != ':') {
                out_ += ',';
            }
        }
    }
    static bool plain(char c) noexcept {
        return static_cast<unsigned char>(c) >= 0x20 && c != '"' && c != '\\';
    }
    void quoted(std::string_view s) {
        out_ += '"';
        std::size_t i = 0;
        while (i < s.size()) {
            // A run of characters that need no escape (nearly all of them) is appended at once.
            std::size_t run = i;
            while (run < s.size() && plain(s[run])) {
                ++run;
            }
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
    }

    std::string out_;
};

}  // namespace om
