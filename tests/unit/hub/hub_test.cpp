#include "hub/hub.hpp"

#include "routing/memory/memory_backplane.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace switchboard::hub {
namespace {

using status = invocation_outcome::status;

const char* const type_mismatch =
    "Error binding arguments. Make sure that the types of the provided values match the types "
    "of the hub method being invoked.";

// Methods here never send, so the pool's thread need not run.
class hub_test : public ::testing::Test {
protected:
    hub_test() {
        hub_.method("Echo", [](hub_context&, std::string text) { return text; })
            .method("Add", [](hub_context&, int a, int b) { return a + b; })
            .method("Split",
                    [](hub_context&, std::string a, std::string b) {
                        return std::vector<std::string>{a, b};
                    })
            .method("Fail", [](hub_context&) -> hub_result<int> { return hub_error("nope"); })
            .method("Half",
                    [](hub_context&, int n) -> hub_result<int> {
                        if (n % 2 != 0) {
                            return hub_error("odd");
                        }
                        return n / 2;
                    })
            .method("Check", [](hub_context&) -> hub_result<> { return {}; })
            .method("Remember", [this](hub_context&, std::string text) { remembered_ = text; })
            .method("WhoAmI", [](hub_context& context) {
                const auto* room = context.request().find_query("room");
                return context.connection_id() + "/" + context.user_id() + "/" +
                       (room != nullptr ? *room : "");
            });
    }

    invocation_outcome invoke(std::string_view method, boost::json::array arguments) {
        const auto* entry = hub_.find_method(method);
        if (entry == nullptr) {
            ADD_FAILURE() << "no method " << method;
            return {};
        }
        transport::connection connection(connection_id_, "token", 0,
                                         transport::transport_kind::websockets, 1024, request_);
        hub_context context(router_, hub_id_, connection_id_, user_id_, connection);
        invocation_resources resources;
        return entry->invoke(context, arguments, resources);
    }

    shard_pool pool_{1};
    routing::memory_backplane backplane_{std::make_shared<routing::memory_bus>(),
                                         pool_.context(0).get_executor()};
    routing::router router_{pool_, backplane_};
    routing::hub_id hub_id_ = router_.add_hub("test");
    std::string connection_id_ = "conn";
    std::string user_id_ = "alice";
    transport::request_info request_{{{"Room", "lobby"}}, "127.0.0.1", {}, {}};
    hub_definition hub_{"test"};
    std::string remembered_;
};

TEST_F(hub_test, find_method_ignores_case_and_returns_the_declared_name) {
    const auto* entry = hub_.find_method("eCHO");
    ASSERT_NE(entry, nullptr);
    EXPECT_EQ(entry->name, "Echo");
    EXPECT_EQ(hub_.find_method("echoo"), nullptr);
    EXPECT_EQ(hub_.find_method(""), nullptr);
}

TEST_F(hub_test, method_policies_attach_to_registered_methods_only) {
    auto writers = auth::parse_policy("role:writer");
    ASSERT_TRUE(writers);
    hub_.authorize("ECHO", *writers);
    EXPECT_EQ(hub_.find_method("Echo")->policy.roles, std::vector<std::string>{"writer"});
    EXPECT_FALSE(hub_.find_method("Add")->policy.restricts());
    EXPECT_THROW(hub_.authorize("Missing", *writers), std::invalid_argument);
    EXPECT_FALSE(hub_.policy().restricts());
    hub_.authorize(*writers);
    EXPECT_TRUE(hub_.policy().restricts());
}

TEST_F(hub_test, too_many_arguments_is_a_binding_error) {
    const auto outcome = invoke("Echo", {"a", "b"});
    EXPECT_EQ(outcome.result_status, status::binding_error);
    EXPECT_EQ(outcome.failure.message, "Invocation provides 2 argument(s) but target expects 1.");
}

TEST_F(hub_test, too_few_arguments_is_a_binding_error) {
    const auto outcome = invoke("Add", {1});
    EXPECT_EQ(outcome.result_status, status::binding_error);
    EXPECT_EQ(outcome.failure.message, "Invocation provides 1 argument(s) but target expects 2.");
}

TEST_F(hub_test, wrong_argument_type_is_a_binding_error) {
    for (const auto& arguments : {boost::json::array{42}, boost::json::array{nullptr},
                                  boost::json::array{boost::json::array{"a"}}}) {
        const auto outcome = invoke("Echo", arguments);
        EXPECT_EQ(outcome.result_status, status::binding_error) << arguments;
        EXPECT_EQ(outcome.failure.message, type_mismatch);
    }
    const auto outcome = invoke("Add", {1, "2"});
    EXPECT_EQ(outcome.result_status, status::binding_error);
    EXPECT_EQ(outcome.failure.message, type_mismatch);
}

TEST_F(hub_test, hub_error_result_carries_its_message) {
    const auto outcome = invoke("Fail", {});
    EXPECT_EQ(outcome.result_status, status::hub_error);
    EXPECT_EQ(outcome.failure.message, "nope");
    EXPECT_TRUE(outcome.result.is_null());
}

TEST_F(hub_test, value_results_are_converted_to_json) {
    auto outcome = invoke("Add", {2, 3});
    EXPECT_EQ(outcome.result_status, status::ok);
    EXPECT_EQ(outcome.result, 5);

    outcome = invoke("Split", {"a", "b"});
    EXPECT_EQ(outcome.result, (boost::json::array{"a", "b"}));

    outcome = invoke("Half", {8});
    EXPECT_EQ(outcome.result_status, status::ok);
    EXPECT_EQ(outcome.result, 4);
    EXPECT_EQ(invoke("Half", {3}).failure.message, "odd");
}

TEST_F(hub_test, void_methods_run_and_give_a_null_result) {
    auto outcome = invoke("Remember", {"hello"});
    EXPECT_EQ(outcome.result_status, status::ok);
    EXPECT_TRUE(outcome.result.is_null());
    EXPECT_EQ(remembered_, "hello");

    outcome = invoke("Check", {});
    EXPECT_EQ(outcome.result_status, status::ok);
    EXPECT_TRUE(outcome.result.is_null());
}

TEST_F(hub_test, methods_see_the_callers_identity_and_request) {
    const auto outcome = invoke("WhoAmI", {});
    EXPECT_EQ(outcome.result, "conn/alice/lobby");
}

}  // namespace
}  // namespace switchboard::hub
