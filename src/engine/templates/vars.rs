//! The values a message can show, and the names templates call them by (`{{ service }}`): a closed
//! set, so that a template naming anything else is refused when it is loaded rather than showing a
//! gap to a customer.

/// The values a message can show. Every field is already written for the customer's language.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vars {
    /// The salon's name.
    pub salon: String,
    /// The service's name.
    pub service: String,
    /// The staff member's name.
    pub staff: String,
    /// The appointment's day.
    pub day: String,
    /// The appointment's start time.
    pub time: String,
    /// The service's price.
    pub price: String,
    /// The deposit to pay.
    pub deposit: String,
    /// How many hours before the appointment cancelling is still free.
    pub free_until_hours: String,
    /// The salon's address.
    pub address: String,
}

/// One field of [`Vars`], as a template names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Var {
    Salon,
    Service,
    Staff,
    Day,
    Time,
    Price,
    Deposit,
    FreeUntilHours,
    Address,
}

impl Var {
    /// Every variable with its name, in the order of [`Vars`]' fields.
    pub(super) const ALL: [(&'static str, Var); 9] = [
        ("salon", Var::Salon),
        ("service", Var::Service),
        ("staff", Var::Staff),
        ("day", Var::Day),
        ("time", Var::Time),
        ("price", Var::Price),
        ("deposit", Var::Deposit),
        ("free_until_hours", Var::FreeUntilHours),
        ("address", Var::Address),
    ];

    /// The variable a template calls `name`, if there is one.
    pub(super) fn named(name: &str) -> Option<Var> {
        Self::ALL
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, var)| *var)
    }

    /// Its value in `vars`.
    pub(super) fn value(self, vars: &Vars) -> &str {
        match self {
            Var::Salon => &vars.salon,
            Var::Service => &vars.service,
            Var::Staff => &vars.staff,
            Var::Day => &vars.day,
            Var::Time => &vars.time,
            Var::Price => &vars.price,
            Var::Deposit => &vars.deposit,
            Var::FreeUntilHours => &vars.free_until_hours,
            Var::Address => &vars.address,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variable_reads_its_own_field() {
        let vars = Vars {
            salon: "salon".into(),
            service: "service".into(),
            staff: "staff".into(),
            day: "day".into(),
            time: "time".into(),
            price: "price".into(),
            deposit: "deposit".into(),
            free_until_hours: "free_until_hours".into(),
            address: "address".into(),
        };
        for (name, var) in Var::ALL {
            assert_eq!(Var::named(name), Some(var));
            assert_eq!(var.value(&vars), name);
        }
        assert_eq!(Var::named("nombre"), None);
    }
}
