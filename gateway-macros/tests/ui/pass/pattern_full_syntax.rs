use gateway_core::pattern;
use gateway_core::pattern::Pattern;

const GET_USER: Pattern = pattern!({ cmd: "get_user" });

fn main() {
    assert_eq!(GET_USER.route(), r#"{"cmd":"get_user"}"#);
    let p = pattern!({
        role: "user",
        cmd: "get",
        "a-b": 1,
        a_b: 2,
        10: -2.5,
        2: 1e21,
        nested: { list: [1, "x", true, null], r#type: false },
        quote: "he said \"hi\"",
    });
    assert_eq!(
        p.route(),
        r#"{"10":-2.5,"2":1e+21,"a_b":2,"a-b":1,"cmd":"get","nested":{"list":{"0":1,"1":"x","2":true,"3":null},"type":false},"quote":"he said \"hi\"","role":"user"}"#
    );
    // The compile-time route is the one the runtime computes for the same value.
    let runtime = Pattern::from(serde_json::json!({
        "role": "user", "cmd": "get", "a-b": 1, "a_b": 2, "10": -2.5, "2": 1e21,
        "nested": { "list": [1, "x", true, null], "type": false }, "quote": "he said \"hi\""
    }));
    assert_eq!(p.route(), runtime.route());
    assert_eq!(pattern!("user_created").route(), "user_created");
    assert_eq!(pattern!(42).route(), "42");
    assert_eq!(pattern!({}).route(), "{}");
    assert_eq!(pattern!({ cmd: "x", Cmd: "y", _id: 1, id: 2, ID: 3 }).route(), r#"{"_id":1,"cmd":"x","Cmd":"y","id":2,"ID":3}"#);
}
