#pragma once
// SQL for schema `member`. The only code that touches member.* tables.
#include <optional>
#include <string>

#include "core/task.hpp"

namespace om::pg {
class Pool;
}

namespace om::member {

struct MemberRow {
    std::string id;
    std::string email;
    std::string password_hash;
    std::string name;
    std::string role;
    std::optional<std::string> phone;
    std::string created_at;  // RFC 3339
    std::string updated_at;  // RFC 3339
};

class MemberRepository {
public:
    explicit MemberRepository(pg::Pool& db);

    // Throws pg::SqlError (unique_violation() for a taken email).
    Task<MemberRow> insert(const MemberRow& m);
    Task<std::optional<MemberRow>> find_by_email(const std::string& email);
    Task<std::optional<MemberRow>> find_by_id(const std::string& id);
    // Updates the given fields (nullopt: unchanged; phone_clear: set NULL). Returns the row after update.
    Task<std::optional<MemberRow>> update(const std::string& id, const std::optional<std::string>& name,
                                          const std::optional<std::string>& phone, bool phone_clear,
                                          const std::optional<std::string>& password_hash);

private:
    pg::Pool& db_;
};

}  // namespace om::member
