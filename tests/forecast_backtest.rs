use ny_power::forecast::backtest::backtest_with;
use ny_power::forecast::Params;
use ny_power::nyiso::parse_bytes;
use ny_power::Factors;

#[test]
#[ignore]
fn tune() {
    let bytes = std::fs::read("tests/fixtures/nyiso/20250201rtfuelmix_csv.zip").unwrap();
    let readings = parse_bytes("z", &bytes).unwrap().readings;
    for days in [10, 14, 21] {
        for dw in [0.95, 1.0] {
            for phi in [0.9, 0.92, 0.93, 0.95] {
                let r = backtest_with(&readings, Factors::Direct, Params { profile_days: days, day_weight: dw, anomaly_persistence: phi }).unwrap();
                println!("{days} {dw} {phi} mae {:.2} r1 {:.2} r2 {:.2} r4 {:.2} r8 {:.2}", r.mae.method, r.window_regret[0].regret.method, r.window_regret[1].regret.method, r.window_regret_4h.method, r.window_regret[3].regret.method);
            }
        }
    }
}
