#include "member/member_repository.hpp"

#include "common/clock.hpp"
#include "net/pg.hpp"

namespace om::member {

namespace {
constexpr const char* columns =
    "id::text, email, password_hash, name, role, phone, created_at AT TIME ZONE 'UTC', updated_at AT TIME ZONE 'UTC'";


MemberRow row(const pg::Result& r, int i) {
    MemberRow m;
    m.id = r.get(i, 0);
    m.email = r.get(i, 1);
    m.password_hash = r.get(i, 2);
    m.name = r.get(i, 3);
    m.role = r.get(i, 4);
    m.phone = r.get_opt(i, 5);
    m.created_at = pg_utc_to_rfc3339(r.get(i, 6));
    m.updated_at = pg_utc_to_rfc3339(r.get(i, 7));
    return m;
}
}  // namespace

MemberRepository::MemberRepository(pg::Pool& db) : db_(db) {
    db_.prepare("member.insert", std::string("INSERT INTO member.members (id, email, password_hash, name, role, phone) "
                                             "VALUES ($1::uuid, $2, $3, $4, $5, $6) RETURNING ") + columns);
    db_.prepare("member.by_email", std::string("SELECT ") + columns + " FROM member.members WHERE email = $1");
    db_.prepare("member.by_id", std::string("SELECT ") + columns + " FROM member.members WHERE id = $1::uuid");
    db_.prepare("member.update",
                std::string("UPDATE member.members SET "
                            "name = coalesce($2, name), "
                            "phone = CASE WHEN $4::boolean THEN NULL ELSE coalesce($3, phone) END, "
                            "password_hash = coalesce($5, password_hash), "
                            "password_changed_at = CASE WHEN $5 IS NULL THEN password_changed_at ELSE now() END, "
                            "updated_at = now() "
                            "WHERE id = $1::uuid RETURNING ") + columns);
}

Task<MemberRow> MemberRepository::insert(const MemberRow& m) {
    auto r = co_await db_.query_prepared("member.insert", pg::params(m.id, m.email, m.password_hash, m.name, m.role, m.phone));
    co_return row(r, 0);
}

Task<std::optional<MemberRow>> MemberRepository::find_by_email(const std::string& email) {
    auto r = co_await db_.query_prepared("member.by_email", pg::params(email));
    if (r.empty()) {
        co_return std::nullopt;
    }
    co_return row(r, 0);
}

Task<std::optional<MemberRow>> MemberRepository::find_by_id(const std::string& id) {
    auto r = co_await db_.query_prepared("member.by_id", pg::params(id));
    if (r.empty()) {
        co_return std::nullopt;
    }
    co_return row(r, 0);
}

Task<std::optional<MemberRow>> MemberRepository::update(const std::string& id, const std::optional<std::string>& name,
                                                        const std::optional<std::string>& phone, bool phone_clear,
                                                        const std::optional<std::string>& password_hash) {
    auto r = co_await db_.query_prepared(
        "member.update", pg::params(id, name, phone, std::string(phone_clear ? "true" : "false"), password_hash));
    if (r.empty()) {
        co_return std::nullopt;
    }
    co_return row(r, 0);
}

}  // namespace om::member
