#include "member/member_routes.hpp"

#include <nlohmann/json.hpp>

#include "core/app.hpp"
#include "core/json.hpp"
#include "member/member_service.hpp"

namespace om::member {

namespace {

using nlohmann::json;

json member_json(const MemberRow& m, bool with_updated) {
    json j{{"userId", m.id}, {"email", m.email}, {"name", m.name}, {"role", m.role},
           {"phone", m.phone ? json(*m.phone) : json(nullptr)}, {"createdAt", m.created_at}};
    if (with_updated) {
        j["updatedAt"] = m.updated_at;
    }
    return j;
}

Response json_body(int status, const json& j) { return json_response(status, j.dump()); }

Response login_json(const LoginResult& r) {
    return json_body(200, json{{"accessToken", r.tokens.access},
                               {"tokenType", "Bearer"},
                               {"expiresIn", r.tokens.expires_in},
                               {"refreshToken", r.tokens.refresh},
                               {"member", {{"userId", r.member.id},
                                           {"email", r.member.email},
                                           {"name", r.member.name},
                                           {"role", r.member.role}}}});
}

bool valid_phone(std::string_view p) {
    int digits = 0;
    for (char c : p) {
        if (c >= '0' && c <= '9') {
            ++digits;
        } else if (c != '+' && c != '-' && c != ' ' && c != '(' && c != ')') {
            return false;
        }
    }
    return digits >= 7 && digits <= 15;
}

Result<RegisterCommand> parse_registration(const std::string& body) {
    auto obj = parse_object(body);
    if (!obj) {
        return std::unexpected(obj.error());
    }
    Validator v(*obj);
    RegisterCommand cmd;
    auto raw_email = v.string("email", {.max = 254});
    auto password = v.string("password", {.min = 8, .max = 256, .trim = false});
    auto name = v.string("name", {.max = 100});
    auto role = v.one_of("role", {"BUYER", "SELLER"});
    auto phone = v.string("phone", {.required = false, .max = 30});
    if (raw_email) {
        if (auto e = normalize_email(*raw_email)) {
            cmd.email = std::move(*e);
        } else {
            v.fail("email", "must be a valid email address");
        }
    }
    if (phone && !valid_phone(*phone)) {
        v.fail("phone", "must be a phone number (7-15 digits; + - ( ) and spaces allowed)");
    }
    if (!v.ok()) {
        return std::unexpected(v.error());
    }
    cmd.password = std::move(*password);
    cmd.name = std::move(*name);
    cmd.role = std::move(*role);
    cmd.phone = std::move(phone);
    return cmd;
}

Result<UpdateCommand> parse_update(const std::string& body) {
    auto obj = parse_object(body);
    if (!obj) {
        return std::unexpected(obj.error());
    }
    Validator v(*obj);
    UpdateCommand cmd;
    cmd.name = v.string("name", {.required = false, .max = 100});
    if (obj->contains("phone") && (*obj)["phone"].is_null()) {
        cmd.clear_phone = true;
    } else {
        cmd.phone = v.string("phone", {.required = false, .max = 30});
        if (cmd.phone && !valid_phone(*cmd.phone)) {
            v.fail("phone", "must be a phone number (7-15 digits; + - ( ) and spaces allowed)");
        }
    }
    cmd.password = v.string("password", {.required = false, .min = 8, .max = 256, .trim = false});
    cmd.current_password = v.string("currentPassword", {.required = false, .min = 1, .max = 256, .trim = false});
    if (v.has("password") && !v.has("currentPassword")) {
        v.fail("currentPassword", "is required to change the password");
    }
    if (!v.ok()) {
        return std::unexpected(v.error());
    }
    return cmd;
}

}  // namespace

void add_routes(Router& router, MemberService& svc) {
    router.post("/member/registration", [&svc](Request& req) -> Task<Response> {
        auto cmd = parse_registration(req.body);
        if (!cmd) {
            co_return problem(cmd.error(), req.path);
        }
        auto m = co_await svc.register_member(std::move(*cmd));
        if (!m) {
            co_return problem(m.error(), req.path);
        }
        auto res = json_body(201, member_json(*m, false));
        res.headers.set("Location", "/member/members/" + m->id);
        co_return res;
    });

    router.post("/member/login", [&svc](Request& req) -> Task<Response> {
        auto obj = parse_object(req.body);
        if (!obj) {
            co_return problem(obj.error(), req.path);
        }
        Validator v(*obj);
        auto email = v.string("email", {.max = 254});
        auto password = v.string("password", {.max = 256, .trim = false});
        if (!v.ok()) {
            co_return problem(v.error(), req.path);
        }
        // A malformed email cannot belong to an account: same answer as a wrong password.
        auto normalized = normalize_email(*email).value_or(*email);
        auto r = co_await svc.login(std::move(normalized), std::move(*password), req.remote_address);
        if (!r) {
            co_return problem(r.error(), req.path);
        }
        auto res = login_json(*r);
        res.headers.set("Cache-Control", "no-store");
        co_return res;
    });

    router.post("/member/token/refresh", [&svc](Request& req) -> Task<Response> {
        auto obj = parse_object(req.body);
        if (!obj) {
            co_return problem(obj.error(), req.path);
        }
        Validator v(*obj);
        auto token = v.string("refreshToken", {.max = 512});
        if (!v.ok()) {
            co_return problem(v.error(), req.path);
        }
        auto r = co_await svc.refresh(std::move(*token));
        if (!r) {
            co_return problem(r.error(), req.path);
        }
        auto res = login_json(*r);
        res.headers.set("Cache-Control", "no-store");
        co_return res;
    });

    router.post("/member/logout", [&svc](Request& req) -> Task<Response> {
        co_await svc.logout(req.member());
        co_return no_content();
    }, Auth::required);

    router.get("/member/members/{userId}", [&svc](Request& req) -> Task<Response> {
        auto m = co_await svc.get(req.member(), std::string(req.param("userId")));
        if (!m) {
            co_return problem(m.error(), req.path);
        }
        co_return json_body(200, member_json(*m, true));
    }, Auth::required);

    router.put("/member/members/{userId}", [&svc](Request& req) -> Task<Response> {
        if (req.param("userId") != req.member().member_id) {
            // Ownership before validation: someone else's account is 403 whatever the body says.
            co_return problem(Error{ErrorCode::forbidden, "You may only change your own account"}, req.path);
        }
        auto cmd = parse_update(req.body);
        if (!cmd) {
            co_return problem(cmd.error(), req.path);
        }
        auto m = co_await svc.update(req.member(), std::string(req.param("userId")), std::move(*cmd));
        if (!m) {
            co_return problem(m.error(), req.path);
        }
        co_return json_body(200, member_json(*m, true));
    }, Auth::required);
}

}  // namespace om::member
