//! `salonbot chat`: the terminal simulator, driven through stdin as a customer would type.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_salonbot");

/// Runs `salonbot chat ARGS` in `dir` (also its temporary folder), typing `input`.
fn chat(dir: &Path, args: &[&str], input: &str, env: &[(&str, &str)]) -> Output {
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let mut child = Command::new(BIN)
        .arg("chat")
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("TMPDIR", &tmp)
        .env(
            "SALON_CONFIG",
            concat!(env!("CARGO_MANIFEST_DIR"), "/salon.toml"),
        )
        .env("FLOWS_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/flows"))
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// The transcript as (what was typed, what followed until the next line typed).
fn turns(stdout: &str) -> Vec<(String, String)> {
    let mut turns: Vec<(String, String)> = Vec::new();
    for line in stdout.lines() {
        match line.strip_prefix("> ") {
            Some(typed) => turns.push((typed.to_owned(), String::new())),
            None => {
                if let Some((_, out)) = turns.last_mut() {
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
    }
    turns
}

fn stdout_of(out: &Output) -> String {
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    stdout
}

#[test]
fn a_customer_books_by_tapping_numbered_choices() {
    let dir = tempfile::tempdir().unwrap();
    let out = chat(dir.path(), &[], "hola\n1\n1\n1\n1\n1\n1\n/quit\n", &[]);
    let stdout = stdout_of(&out);
    assert!(stdout.contains("Peluquería Malasaña"), "{stdout}");
    assert!(stdout.contains("+34600000000"), "{stdout}");
    let turns = turns(&stdout);
    let typed: Vec<&str> = turns.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(typed, ["hola", "1", "1", "1", "1", "1", "1", "/quit"]);

    let greeting = &turns[0].1;
    assert!(
        greeting.starts_with("bot: ¡Hola!") && greeting.contains("Peluquería Malasaña"),
        "{greeting}"
    );
    assert!(greeting.contains("  1) Reservar cita\n"), "{greeting}");
    assert!(greeting.contains("  2) Mis citas\n"), "{greeting}");

    let services = &turns[1].1;
    assert!(services.contains("(tap: Reservar cita)"), "{services}");
    assert!(services.contains("[Ver servicios]"), "{services}");
    assert!(
        services.contains("  1) Corte y peinado mujer — 35 € · 45 min\n"),
        "{services}"
    );
    assert!(services.contains("  2) Corte hombre"), "{services}");

    let staff = &turns[2].1;
    assert!(staff.contains("(tap: Corte y peinado mujer)"), "{staff}");
    assert!(staff.contains("  1) Cualquiera\n"), "{staff}");

    let days = &turns[3].1;
    assert!(days.contains("(tap: Cualquiera)"), "{days}");
    assert!(days.contains("[Ver días]"), "{days}");

    let times = &turns[4].1;
    assert!(times.contains("[Ver horas]"), "{times}");
    let first_time = times
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("1) "))
        .unwrap_or_else(|| panic!("a numbered time: {times}"));
    let (time, staff_name) = first_time.split_once(" — ").unwrap();
    assert!(
        time.len() == 5 && time.as_bytes()[2] == b':',
        "a time first: {times}"
    );

    let confirm = &turns[5].1;
    assert!(confirm.contains(&format!("(tap: {time})")), "{confirm}");
    assert!(confirm.contains("  1) Sí, confirmar\n"), "{confirm}");

    let confirmed = &turns[6].1;
    assert!(confirmed.contains("(tap: Sí, confirmar)"), "{confirmed}");
    assert!(
        confirmed.contains("bot: ¡Listo! ✨ Te esperamos el")
            && confirmed.contains(&format!(
                "a las {time} para Corte y peinado mujer con {staff_name}"
            )),
        "{confirmed}"
    );

    // Nothing left behind: no server database, and the session's scratch store is gone.
    assert!(!dir.path().join("data").exists());
    assert_eq!(
        std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
        0
    );
}

#[test]
fn lang_en_talks_english_to_a_customer_whose_first_message_does_not_tell() {
    let dir = tempfile::tempdir().unwrap();
    let out = chat(dir.path(), &["--lang", "en"], "👋\n9\n/quit\n", &[]);
    let stdout = stdout_of(&out);
    assert!(stdout.contains("+447700900000"), "{stdout}");
    let turns = turns(&stdout);
    let greeting = &turns[0].1;
    assert!(
        greeting.contains("Welcome to Peluquería Malasaña"),
        "{greeting}"
    );
    assert!(
        greeting.contains("  1) Book an appointment\n"),
        "{greeting}"
    );
    // A number that is not a choice is sent as text.
    assert!(!turns[1].1.contains("(tap:"), "{}", turns[1].1);
    assert!(turns[1].1.starts_with("bot: "), "{}", turns[1].1);
}

#[test]
fn a_kept_database_resumes_the_conversation_and_its_choices() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("chat.db").display());
    let first = chat(dir.path(), &["--database-url", &db], "hola\n1\n", &[]);
    stdout_of(&first);
    let second = chat(dir.path(), &["--database-url", &db], "2\n/quit\n", &[]);
    let stdout = stdout_of(&second);
    assert!(
        !stdout.contains("¡Hola!"),
        "earlier replies are not repeated: {stdout}"
    );
    let turns = turns(&stdout);
    assert!(turns[0].1.contains("(tap: Corte hombre)"), "{stdout}");
    assert!(turns[0].1.contains("[Elegir persona]"), "{stdout}");
}

#[test]
fn the_servers_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = chat(
        dir.path(),
        &["--database-url", "sqlite://data/salonbot.db"],
        "hola\n",
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("server's database"), "{stderr}");
    assert!(!dir.path().join("data").exists());
}

#[test]
fn the_bot_says_the_templates_of_templates_dir_as_edited() {
    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().join("messages");
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    for language in ["es", "en", "pt"] {
        std::fs::create_dir_all(templates.join(language)).unwrap();
        for entry in std::fs::read_dir(shipped.join(language)).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(
                &path,
                templates.join(language).join(path.file_name().unwrap()),
            )
            .unwrap();
        }
    }
    std::fs::write(
        templates.join("es").join("greeting.txt"),
        "Buenas, esto es {{ salon }} con el texto recién editado.\n",
    )
    .unwrap();

    let out = chat(
        dir.path(),
        &[],
        "hola\n/quit\n",
        &[("TEMPLATES_DIR", templates.to_str().unwrap())],
    );
    let stdout = stdout_of(&out);
    let greeting = &turns(&stdout)[0].1;
    assert!(
        greeting
            .starts_with("bot: Buenas, esto es Peluquería Malasaña con el texto recién editado."),
        "{greeting}"
    );
}

/// The simulator understands customers writing freely: one line with the service, the day and the
/// time reaches the confirmation; a question is answered from the catalog.
#[test]
fn the_simulator_takes_free_text_as_customers_write_it() {
    use chrono::Datelike;
    let dir = tempfile::tempdir().unwrap();
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Madrid)
        .date_naive();
    // Next week's Thursday, when the salon is open until 20:30.
    let ahead = 7 + (3 + 7 - today.weekday().num_days_from_monday()) % 7;
    let thursday = today + chrono::Duration::days(i64::from(ahead));
    let input = format!(
        "quiero un corte de hombre el {}/{} a las 5\ncuanto cuesta el tinte?\n",
        thursday.day(),
        thursday.month()
    );
    let out = chat(dir.path(), &[], &input, &[]);
    let stdout = stdout_of(&out);
    let turns = turns(&stdout);
    assert_eq!(turns.len(), 2, "{stdout}");
    assert!(turns[0].1.contains("17:00"), "{stdout}");
    assert!(turns[0].1.contains("Corte hombre"), "{stdout}");
    assert!(turns[1].1.contains("Tinte de raíz: 45 €"), "{stdout}");
}

#[test]
fn the_payment_link_is_shown_and_pay_marks_it_paid() {
    let dir = tempfile::tempdir().unwrap();
    // Tinte de raíz (a deposit of 10 €), anyone, the first day and time, yes; then pay, twice.
    let out = chat(
        dir.path(),
        &[],
        "hola\n1\n3\n1\n1\n1\n1\n/pay\n/pay\n/quit\n",
        &[],
    );
    let stdout = stdout_of(&out);
    let turns = turns(&stdout);
    let typed: Vec<&str> = turns.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        typed,
        [
            "hola", "1", "3", "1", "1", "1", "1", "/pay", "/pay", "/quit"
        ]
    );
    assert!(turns[2].1.contains("(tap: Tinte de raíz)"), "{stdout}");
    let confirmed = &turns[6].1;
    assert!(
        confirmed.contains("señal de 10 €: un momento"),
        "{confirmed}"
    );
    assert!(
        confirmed.contains("[Pagar señal] https://sandbox.salonbot.invalid/pay/cs_sandbox_"),
        "the link, shown: {confirmed}"
    );
    let paid = &turns[7].1;
    assert!(paid.contains("(paid on the sandbox's Checkout)"), "{paid}");
    assert!(
        paid.contains("bot: ¡Pago recibido, gracias!") && paid.contains("Tinte de raíz"),
        "{paid}"
    );
    assert!(
        turns[8].1.contains("(no payment link is open to pay)"),
        "{stdout}"
    );
}

#[test]
fn the_staff_take_the_conversation_with_agent_and_give_it_back_with_resolve() {
    let dir = tempfile::tempdir().unwrap();
    let input = "hola\n/agent Hola, soy Lucía del salón\nquiero una cita\n/resolve\nhola\n/quit\n";
    let out = chat(dir.path(), &[], input, &[]);
    let stdout = stdout_of(&out);
    let turns = turns(&stdout);
    let typed: Vec<&str> = turns.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(typed[..5], input.lines().collect::<Vec<_>>()[..5]);
    assert!(
        turns[1].1.starts_with("staff: Hola, soy Lucía del salón"),
        "{stdout}"
    );
    assert_eq!(turns[2].1, "", "the bot is silent in human mode: {stdout}");
    assert!(turns[3].1.contains("the bot has it again"), "{stdout}");
    assert!(
        turns[4].1.starts_with("bot: "),
        "the bot answers again: {stdout}"
    );
}
