//! The DynamoDB side of the metadata port, without I/O: item attributes, condition expressions,
//! the versioned-put update expression and key conditions for range queries.
//!
//! Every expression names attributes through placeholders (`#pk`, `#ver`, ...: `ttl` is a
//! DynamoDB reserved word) and carries exactly the names and values it uses, since DynamoDB
//! refuses unused ones.

use std::collections::HashMap;
use std::ops::Bound;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use logport_core::store::{Condition, Item, Query, Result, StoreError};

/// Partition key attribute (S, HASH).
pub const ATTR_PK: &str = "pk";
/// Sort key attribute (S, RANGE).
pub const ATTR_SK: &str = "sk";
/// The item's value (B); absent for an empty value, which some servers (moto) do not store.
pub const ATTR_VALUE: &str = "v";
/// The item's version (N): 1 on creation, +1 on every put.
pub const ATTR_VERSION: &str = "ver";
/// When the item expires (N, Unix seconds): the table's TTL attribute.
pub const ATTR_EXPIRES_AT: &str = "ttl";

pub(crate) type Attributes = HashMap<String, AttributeValue>;

/// An expression's placeholders, to go with the request.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Placeholders {
    pub names: HashMap<String, String>,
    pub values: Attributes,
}

impl Placeholders {
    fn name(&mut self, placeholder: &str, attribute: &str) {
        self.names.insert(placeholder.to_owned(), attribute.to_owned());
    }

    fn value(&mut self, placeholder: &str, value: AttributeValue) {
        self.values.insert(placeholder.to_owned(), value);
    }

    /// The names, or `None` when there are none (DynamoDB refuses empty maps).
    pub fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    /// The values, or `None` when there are none.
    pub fn values(&self) -> Option<Attributes> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

/// A condition expression with its placeholders.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct ConditionExpression {
    pub expression: Option<String>,
    pub placeholders: Placeholders,
}

/// The condition expression for a port [`Condition`] (`None` for [`Condition::Always`]).
pub(crate) fn condition(condition: Condition) -> ConditionExpression {
    let mut placeholders = Placeholders::default();
    let expression = match condition {
        Condition::Always => None,
        Condition::Absent => {
            placeholders.name("#pk", ATTR_PK);
            Some("attribute_not_exists(#pk)".to_owned())
        }
        Condition::Exists => {
            placeholders.name("#pk", ATTR_PK);
            Some("attribute_exists(#pk)".to_owned())
        }
        Condition::Version(version) => {
            placeholders.name("#ver", ATTR_VERSION);
            placeholders.value(":expected", number(version));
            Some("#ver = :expected".to_owned())
        }
    };
    ConditionExpression { expression, placeholders }
}

/// The condition of a transaction's ConditionCheck, which must have one: [`Condition::Always`]
/// becomes an expression that always holds, so cancellation reasons keep the operations' indices.
pub(crate) fn check_condition(wanted: Condition) -> ConditionExpression {
    if wanted != Condition::Always {
        return condition(wanted);
    }
    let mut placeholders = Placeholders::default();
    placeholders.name("#pk", ATTR_PK);
    ConditionExpression {
        expression: Some("attribute_not_exists(#pk) OR attribute_exists(#pk)".to_owned()),
        placeholders,
    }
}

/// A put as one UpdateItem: writes the value and expiry and moves the version from its stored
/// value (0 when absent) to +1, atomically with the condition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PutExpression {
    pub update: String,
    pub condition: Option<String>,
    pub placeholders: Placeholders,
}

pub(crate) fn put(value: Vec<u8>, expires_at: Option<i64>, wanted: Condition) -> PutExpression {
    let ConditionExpression { expression: condition, mut placeholders } = condition(wanted);
    placeholders.name("#v", ATTR_VALUE);
    placeholders.name("#ver", ATTR_VERSION);
    placeholders.name("#ttl", ATTR_EXPIRES_AT);
    placeholders.value(":zero", number(0));
    placeholders.value(":one", number(1));
    let mut set = Vec::with_capacity(3);
    let mut remove = Vec::with_capacity(2);
    if value.is_empty() {
        remove.push("#v");
    } else {
        placeholders.value(":v", AttributeValue::B(Blob::new(value)));
        set.push("#v = :v");
    }
    set.push("#ver = if_not_exists(#ver, :zero) + :one");
    match expires_at {
        Some(expires_at) => {
            placeholders.value(":ttl", AttributeValue::N(expires_at.to_string()));
            set.push("#ttl = :ttl");
        }
        None => remove.push("#ttl"),
    }
    let mut update = format!("SET {}", set.join(", "));
    if !remove.is_empty() {
        update.push_str(" REMOVE ");
        update.push_str(&remove.join(", "));
    }
    PutExpression { update, condition, placeholders }
}

/// A range query's key condition. DynamoDB has one sort-key condition per query, and only
/// inclusive ones (`BETWEEN`, `>=`, `<=`): exclusive bounds are queried inclusively and the bound
/// items filtered out afterwards ([`Query::contains`]).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct KeyCondition {
    pub expression: String,
    pub placeholders: Placeholders,
    /// How many items at most the inclusive query returns that the range excludes.
    pub excluded_bounds: usize,
}

/// The key condition of `query`, or `None` when its range holds no sort key at all.
pub(crate) fn key_condition(query: &Query) -> Option<KeyCondition> {
    let (lower, lower_excluded) = bound_value(&query.start);
    let (upper, upper_excluded) = bound_value(&query.end);
    if let (Some(lower), Some(upper)) = (lower, upper) {
        // Rust compares strings by UTF-8 bytes, like DynamoDB compares sort keys.
        if lower > upper || (lower == upper && (lower_excluded || upper_excluded)) {
            return None;
        }
    }
    let mut placeholders = Placeholders::default();
    placeholders.name("#pk", ATTR_PK);
    placeholders.value(":pk", AttributeValue::S(query.pk.clone()));
    let mut expression = "#pk = :pk".to_owned();
    let sort_condition = match (lower, upper) {
        (Some(_), Some(_)) => Some("#sk BETWEEN :lower AND :upper"),
        (Some(_), None) => Some("#sk >= :lower"),
        (None, Some(_)) => Some("#sk <= :upper"),
        (None, None) => None,
    };
    if let Some(sort_condition) = sort_condition {
        placeholders.name("#sk", ATTR_SK);
        expression.push_str(" AND ");
        expression.push_str(sort_condition);
    }
    if let Some(lower) = lower {
        placeholders.value(":lower", AttributeValue::S(lower.to_owned()));
    }
    if let Some(upper) = upper {
        placeholders.value(":upper", AttributeValue::S(upper.to_owned()));
    }
    let excluded_bounds = usize::from(lower_excluded) + usize::from(upper_excluded);
    Some(KeyCondition { expression, placeholders, excluded_bounds })
}

fn bound_value(bound: &Bound<String>) -> (Option<&str>, bool) {
    match bound {
        Bound::Included(value) => (Some(value), false),
        Bound::Excluded(value) => (Some(value), true),
        Bound::Unbounded => (None, false),
    }
}

/// The primary key of an item.
pub(crate) fn key(pk: &str, sk: &str) -> Attributes {
    HashMap::from([
        (ATTR_PK.to_owned(), AttributeValue::S(pk.to_owned())),
        (ATTR_SK.to_owned(), AttributeValue::S(sk.to_owned())),
    ])
}

/// An item read back from the table.
pub(crate) fn item(attributes: &Attributes) -> Result<Item> {
    let string = |name: &str| match attributes.get(name) {
        Some(AttributeValue::S(value)) => Ok(value.clone()),
        other => Err(malformed(name, other)),
    };
    let (pk, sk) = (string(ATTR_PK)?, string(ATTR_SK)?);
    let value = match attributes.get(ATTR_VALUE) {
        Some(AttributeValue::B(blob)) => blob.clone().into_inner(),
        None => Vec::new(),
        other => return Err(malformed(ATTR_VALUE, other)),
    };
    let version = version(attributes)?;
    let expires_at = match attributes.get(ATTR_EXPIRES_AT) {
        None | Some(AttributeValue::Null(_)) => None,
        Some(AttributeValue::N(number)) => {
            Some(number.parse::<i64>().map_err(|_| malformed(ATTR_EXPIRES_AT, attributes.get(ATTR_EXPIRES_AT)))?)
        }
        other => return Err(malformed(ATTR_EXPIRES_AT, other)),
    };
    Ok(Item { pk, sk, value, version, expires_at })
}

/// The version attribute of an item (or of UpdateItem's returned attributes).
pub(crate) fn version(attributes: &Attributes) -> Result<u64> {
    match attributes.get(ATTR_VERSION) {
        Some(AttributeValue::N(number)) => {
            number.parse::<u64>().map_err(|_| malformed(ATTR_VERSION, attributes.get(ATTR_VERSION)))
        }
        other => Err(malformed(ATTR_VERSION, other)),
    }
}

fn number(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn malformed(name: &str, value: Option<&AttributeValue>) -> StoreError {
    StoreError::Backend(format!("DynamoDB item attribute '{name}' is missing or malformed: {value:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(placeholders: &Placeholders) -> Vec<(&str, &str)> {
        let mut names: Vec<_> = placeholders.names.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        names.sort_unstable();
        names
    }

    fn value_keys(placeholders: &Placeholders) -> Vec<&str> {
        let mut keys: Vec<_> = placeholders.values.keys().map(String::as_str).collect();
        keys.sort_unstable();
        keys
    }

    #[test]
    fn conditions_use_exactly_their_placeholders() {
        let always = condition(Condition::Always);
        assert_eq!(always.expression, None);
        assert_eq!((always.placeholders.names(), always.placeholders.values()), (None, None));

        let absent = condition(Condition::Absent);
        assert_eq!(absent.expression.as_deref(), Some("attribute_not_exists(#pk)"));
        assert_eq!(names(&absent.placeholders), [("#pk", "pk")]);
        assert_eq!(absent.placeholders.values(), None);

        let exists = condition(Condition::Exists);
        assert_eq!(exists.expression.as_deref(), Some("attribute_exists(#pk)"));

        let version = condition(Condition::Version(7));
        assert_eq!(version.expression.as_deref(), Some("#ver = :expected"));
        assert_eq!(names(&version.placeholders), [("#ver", "ver")]);
        assert_eq!(version.placeholders.values[":expected"], AttributeValue::N("7".into()));
    }

    #[test]
    fn a_check_always_has_a_condition() {
        let check = check_condition(Condition::Always);
        assert_eq!(check.expression.as_deref(), Some("attribute_not_exists(#pk) OR attribute_exists(#pk)"));
        assert_eq!(check_condition(Condition::Exists), condition(Condition::Exists));
    }

    #[test]
    fn puts_move_the_version_and_set_or_remove_the_expiry() {
        let with_ttl = put(b"x".to_vec(), Some(42), Condition::Version(3));
        assert_eq!(with_ttl.update, "SET #v = :v, #ver = if_not_exists(#ver, :zero) + :one, #ttl = :ttl");
        assert_eq!(with_ttl.condition.as_deref(), Some("#ver = :expected"));
        assert_eq!(value_keys(&with_ttl.placeholders), [":expected", ":one", ":ttl", ":v", ":zero"]);
        assert_eq!(names(&with_ttl.placeholders), [("#ttl", "ttl"), ("#v", "v"), ("#ver", "ver")]);

        let without_ttl = put(b"x".to_vec(), None, Condition::Absent);
        assert_eq!(without_ttl.update, "SET #v = :v, #ver = if_not_exists(#ver, :zero) + :one REMOVE #ttl");
        assert_eq!(value_keys(&without_ttl.placeholders), [":one", ":v", ":zero"]);

        let empty = put(Vec::new(), None, Condition::Always);
        assert_eq!(empty.update, "SET #ver = if_not_exists(#ver, :zero) + :one REMOVE #v, #ttl");
        assert_eq!(value_keys(&empty.placeholders), [":one", ":zero"]);
        assert_eq!(names(&without_ttl.placeholders), [("#pk", "pk"), ("#ttl", "ttl"), ("#v", "v"), ("#ver", "ver")]);
    }

    #[test]
    fn key_conditions_cover_every_bound_shape() {
        let partition = Query::partition("p");
        let all = key_condition(&partition).unwrap();
        assert_eq!(all.expression, "#pk = :pk");
        assert_eq!(names(&all.placeholders), [("#pk", "pk")]);
        assert_eq!(value_keys(&all.placeholders), [":pk"]);

        let between =
            key_condition(&partition.clone().from(Bound::Excluded("a".into())).to(Bound::Included("c".into())))
                .unwrap();
        assert_eq!(between.expression, "#pk = :pk AND #sk BETWEEN :lower AND :upper");
        assert_eq!(value_keys(&between.placeholders), [":lower", ":pk", ":upper"]);
        assert_eq!(between.excluded_bounds, 1);

        let from = key_condition(&partition.clone().from(Bound::Included("a".into()))).unwrap();
        assert_eq!((from.expression.as_str(), from.excluded_bounds), ("#pk = :pk AND #sk >= :lower", 0));
        let to = key_condition(&partition.clone().to(Bound::Excluded("a".into()))).unwrap();
        assert_eq!((to.expression.as_str(), to.excluded_bounds), ("#pk = :pk AND #sk <= :upper", 1));
        let prefix = key_condition(&Query::prefix("p", "ab")).unwrap();
        assert_eq!(prefix.placeholders.values[":upper"], AttributeValue::S(format!("ab{}", char::MAX)));
    }

    #[test]
    fn empty_ranges_need_no_query() {
        let range = |start, end| Query::partition("p").from(start).to(end);
        let s = |value: &str| value.to_owned();
        assert!(key_condition(&range(Bound::Included(s("b")), Bound::Excluded(s("a")))).is_none());
        assert!(key_condition(&range(Bound::Included(s("a")), Bound::Excluded(s("a")))).is_none());
        assert!(key_condition(&range(Bound::Excluded(s("a")), Bound::Included(s("a")))).is_none());
        assert!(key_condition(&range(Bound::Included(s("a")), Bound::Included(s("a")))).is_some());
        // Byte order, not char order of some other collation: 'Z' < 'a' < 'é'.
        assert!(key_condition(&range(Bound::Included(s("\u{e9}")), Bound::Included(s("a")))).is_none());
        assert!(key_condition(&range(Bound::Included(s("Z")), Bound::Included(s("a")))).is_some());
    }

    #[test]
    fn items_round_trip_through_attributes() {
        let mut attributes = key("p", "s");
        attributes.insert(ATTR_VALUE.into(), AttributeValue::B(Blob::new(vec![0, 255])));
        attributes.insert(ATTR_VERSION.into(), AttributeValue::N("12".into()));
        let parsed = item(&attributes).unwrap();
        assert_eq!(parsed, Item { pk: "p".into(), sk: "s".into(), value: vec![0, 255], version: 12, expires_at: None });
        attributes.insert(ATTR_EXPIRES_AT.into(), AttributeValue::N("-5".into()));
        assert_eq!(item(&attributes).unwrap().expires_at, Some(-5));
        attributes.remove(ATTR_VALUE);
        assert_eq!(item(&attributes).unwrap().value, Vec::<u8>::new(), "no value attribute: an empty value");
        attributes.insert(ATTR_VERSION.into(), AttributeValue::S("12".into()));
        assert!(matches!(item(&attributes), Err(StoreError::Backend(_))));
    }
}
