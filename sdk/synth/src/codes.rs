//! Every code the generator writes, in one place.
//!
//! SNOMED CT concept ids (UK edition, including the UK clinical extension,
//! namespace 1000000) for events, and dm+d codes (virtual medicinal
//! products, namespace 1000001) for medications. The README says where each
//! was checked. Every id here passes the Verhoeff check digit that SNOMED
//! CT identifiers carry (see [`verhoeff_ok`] and the test over [`SNOMED`]
//! and [`DMD`]).

/// Diabetes mellitus (disorder); used for a minority of diagnoses recorded
/// without a type.
pub const DIABETES: u64 = 73211009;
/// Type 2 diabetes mellitus (disorder).
pub const DIABETES_TYPE_2: u64 = 44054006;
/// Type 1 diabetes mellitus (disorder).
pub const DIABETES_TYPE_1: u64 = 46635009;
/// Diabetes resolved (finding); QOF's `DMRES_COD`.
pub const DIABETES_RESOLVED: u64 = 315051004;
/// Hypertensive disorder, systemic arterial (disorder).
pub const HYPERTENSION: u64 = 38341003;
/// Essential hypertension (disorder); in QOF's `HYP_COD` beside
/// [`HYPERTENSION`], and the code many diagnoses carry.
pub const ESSENTIAL_HYPERTENSION: u64 = 59621000;
/// Patient on maximal tolerated antihypertensive therapy (finding); QOF's
/// `HTMAX_COD`.
pub const MAXIMAL_BP_THERAPY: u64 = 407567007;
/// Excepted from hypertension quality indicators - patient unsuitable
/// (finding); QOF's `HYPPCAPU_COD`.
pub const HYPERTENSION_PCA_UNSUITABLE: u64 = 716821000000100;
/// Excepted from hypertension quality indicators - informed dissent
/// (finding); QOF's `HYPPCADEC_COD`.
pub const HYPERTENSION_PCA_DECLINED: u64 = 716771000000106;
/// Blood pressure procedure declined (situation); QOF's `BPDEC_COD`.
pub const BP_DECLINED: u64 = 413123006;
/// Hypertension monitoring invitation (procedure); QOF's `HYPINVITE_COD`.
pub const HYPERTENSION_INVITATION: u64 = 310427004;
/// Hypertension monitoring first letter (procedure); `HYPINVITE_COD`.
pub const HYPERTENSION_FIRST_LETTER: u64 = 185719002;
/// Mild frailty (finding), as the electronic frailty index codes it.
pub const MILD_FRAILTY: u64 = 925791000000100;
/// Moderate frailty (finding).
pub const MODERATE_FRAILTY: u64 = 925831000000107;
/// Severe frailty (finding).
pub const SEVERE_FRAILTY: u64 = 925861000000102;
/// Hypertension resolved (finding); QOF's `HYPRES_COD`.
pub const HYPERTENSION_RESOLVED: u64 = 162659009;
/// Asthma (disorder).
pub const ASTHMA: u64 = 195967001;
/// Asthma resolved (finding); QOF's `ASTRES_COD`.
pub const ASTHMA_RESOLVED: u64 = 162660004;
/// Haemoglobin A1c level - International Federation of Clinical Chemistry
/// and Laboratory Medicine standardised (observable entity); value in
/// mmol/mol.
pub const HBA1C_IFCC: u64 = 999791000000106;
/// Systolic blood pressure (observable entity); value in mm[Hg].
pub const SYSTOLIC_BP: u64 = 271649006;
/// Diastolic blood pressure (observable entity); value in mm[Hg].
pub const DIASTOLIC_BP: u64 = 271650006;
/// Administration of first inactivated seasonal influenza vaccination
/// (procedure): in QOF's FLU_COD (20250912), which has no plain "seasonal
/// influenza vaccination" (822851000000102, written here before).
pub const FLU_VACCINATION: u64 = 985151000000100;
/// Seasonal influenza vaccination given by pharmacist (situation); FLU_COD.
pub const FLU_BY_PHARMACIST: u64 = 955691000000108;
/// Angina (disorder); QOF's `CHD_COD`.
pub const ANGINA: u64 = 194828000;
/// Myocardial infarction (disorder); `CHD_COD`.
pub const MYOCARDIAL_INFARCTION: u64 = 22298006;
/// Ischemic heart disease (disorder); `CHD_COD`.
pub const ISCHAEMIC_HEART_DISEASE: u64 = 414545008;
/// Atrial fibrillation (disorder); QOF's `AFIB_COD`.
pub const ATRIAL_FIBRILLATION: u64 = 49436004;
/// Paroxysmal atrial fibrillation (disorder); `AFIB_COD`.
pub const PAROXYSMAL_AF: u64 = 282825002;
/// Atrial fibrillation resolved (finding); `AFIBRES_COD`.
pub const AF_RESOLVED: u64 = 196371000000102;
/// Asthma annual review (regime/therapy); QOF's `REV_COD`.
pub const ASTHMA_REVIEW: u64 = 394700004;
/// Asthma monitoring check done (regime/therapy); `REV_COD`.
pub const ASTHMA_MONITORING: u64 = 270442000;
/// Asthma self-management plan agreed (procedure); `WRITPASTP_COD`.
pub const ASTHMA_PLAN: u64 = 811921000000103;
/// Asthma control test score (observable entity); `ASTCONTASS_COD`.
pub const ASTHMA_CONTROL_TEST: u64 = 443117005;
/// Number of asthma exacerbations in past year (observable entity);
/// `ASTEXACB_COD`.
pub const ASTHMA_EXACERBATIONS: u64 = 366874008;
/// Excepted from asthma quality indicators - patient unsuitable;
/// `ASTPCAPU_COD`.
pub const ASTHMA_PCA_UNSUITABLE: u64 = 717291000000103;
/// Asthma monitoring refused (situation); `ASTMONDEC_COD`.
pub const ASTHMA_MONITORING_DECLINED: u64 = 763221007;
/// Excepted from asthma quality indicators - informed dissent;
/// `ASTPCADEC_COD`.
pub const ASTHMA_PCA_DECLINED: u64 = 716491000000100;
/// Asthma monitoring call first letter (procedure); `ASTINVITE_COD`.
pub const ASTHMA_INVITATION: u64 = 185731000;
/// Serum fructosamine level (observable entity); QOF's `SERFRUC_COD`.
pub const SERUM_FRUCTOSAMINE: u64 = 1006751000000102;
/// Patient on maximal tolerated therapy for diabetes; `DMMAX_COD`.
pub const MAXIMAL_DIABETES_THERAPY: u64 = 407569005;
/// Excepted from diabetes quality indicators - patient unsuitable;
/// `DMPCAPU_COD`.
pub const DIABETES_PCA_UNSUITABLE: u64 = 717421000000100;
/// Excepted from diabetes quality indicators - informed dissent;
/// `DMPCADEC_COD`.
pub const DIABETES_PCA_DECLINED: u64 = 716031000000106;
/// Blood test declined (situation); `BLDTESTDEC_COD`.
pub const BLOOD_TEST_DECLINED: u64 = 116471000119100;
/// Diabetes monitoring invitation (procedure); `DMINVITE_COD`.
pub const DIABETES_INVITATION: u64 = 310425007;
/// Diabetes monitoring first letter (procedure); `DMINVITE_COD`.
pub const DIABETES_FIRST_LETTER: u64 = 185756006;
/// Dissent from secondary use of general practitioner patient identifiable
/// data (finding): the "Type 1 opt-out" (Read v2 `9Nu0.`).
pub const TYPE_1_OPT_OUT: u64 = 827241000000103;

/// Patient encounter procedure (procedure): a routine consultation.
pub const ENCOUNTER: u64 = 308335008;
/// Telephone encounter (procedure).
pub const TELEPHONE_ENCOUNTER: u64 = 185317003;
/// Pulse rate (observable entity); value in /min.
pub const PULSE_RATE: u64 = 78564009;
/// Body temperature (observable entity); value in Cel.
pub const BODY_TEMPERATURE: u64 = 386725007;
/// Peripheral oxygen saturation (observable entity); value in %.
pub const OXYGEN_SATURATION: u64 = 431314004;
/// Body weight (observable entity); value in kg.
pub const BODY_WEIGHT: u64 = 27113001;
/// Body height (observable entity); value in cm.
pub const BODY_HEIGHT: u64 = 50373000;
/// Body mass index (observable entity); value in kg/m2.
pub const BMI: u64 = 60621009;
/// Never smoked tobacco (finding).
pub const NEVER_SMOKED: u64 = 266919005;
/// Ex-smoker (finding).
pub const EX_SMOKER: u64 = 8517006;
/// Smoker (finding).
pub const SMOKER: u64 = 77176002;
/// Medication review done (situation).
pub const MEDICATION_REVIEW: u64 = 314530002;

/// Salbutamol 100micrograms/dose inhaler CFC free (VMP); quantity in doses
/// (one inhaler is 200 doses).
pub const SALBUTAMOL_INHALER: u64 = 39113611000001102;
/// Metformin 500mg tablets (VMP); quantity in tablets. (The id
/// 42127511000001104 sometimes quoted fails the Verhoeff check.)
pub const METFORMIN_500MG_TABLETS: u64 = 325278007;

/// Unit written with HbA1c values.
pub const UNIT_MMOL_PER_MOL: &str = "mmol/mol";
/// Unit written with blood pressure values (UCUM).
pub const UNIT_MM_HG: &str = "mm[Hg]";

/// Unit of pulse rate (UCUM).
pub const UNIT_PER_MIN: &str = "/min";
/// Unit of body temperature (UCUM).
pub const UNIT_CELSIUS: &str = "Cel";
/// Unit of oxygen saturation (UCUM).
pub const UNIT_PERCENT: &str = "%";
/// Unit of body weight (UCUM).
pub const UNIT_KG: &str = "kg";
/// Unit of body height (UCUM).
pub const UNIT_CM: &str = "cm";
/// Unit of body mass index (UCUM).
pub const UNIT_KG_PER_M2: &str = "kg/m2";

/// Every SNOMED CT concept id above.
pub const SNOMED: [u64; 58] = [
    DIABETES,
    DIABETES_TYPE_2,
    DIABETES_TYPE_1,
    DIABETES_RESOLVED,
    HYPERTENSION,
    HYPERTENSION_RESOLVED,
    ASTHMA,
    ASTHMA_RESOLVED,
    HBA1C_IFCC,
    SYSTOLIC_BP,
    DIASTOLIC_BP,
    FLU_VACCINATION,
    TYPE_1_OPT_OUT,
    ENCOUNTER,
    TELEPHONE_ENCOUNTER,
    PULSE_RATE,
    BODY_TEMPERATURE,
    OXYGEN_SATURATION,
    BODY_WEIGHT,
    BODY_HEIGHT,
    BMI,
    NEVER_SMOKED,
    EX_SMOKER,
    SMOKER,
    MEDICATION_REVIEW,
    ESSENTIAL_HYPERTENSION,
    MAXIMAL_BP_THERAPY,
    HYPERTENSION_PCA_UNSUITABLE,
    HYPERTENSION_PCA_DECLINED,
    BP_DECLINED,
    HYPERTENSION_INVITATION,
    HYPERTENSION_FIRST_LETTER,
    MILD_FRAILTY,
    MODERATE_FRAILTY,
    SEVERE_FRAILTY,
    FLU_BY_PHARMACIST,
    ANGINA,
    MYOCARDIAL_INFARCTION,
    ISCHAEMIC_HEART_DISEASE,
    ATRIAL_FIBRILLATION,
    PAROXYSMAL_AF,
    AF_RESOLVED,
    ASTHMA_REVIEW,
    ASTHMA_MONITORING,
    ASTHMA_PLAN,
    ASTHMA_CONTROL_TEST,
    ASTHMA_EXACERBATIONS,
    ASTHMA_PCA_UNSUITABLE,
    ASTHMA_MONITORING_DECLINED,
    ASTHMA_PCA_DECLINED,
    ASTHMA_INVITATION,
    SERUM_FRUCTOSAMINE,
    MAXIMAL_DIABETES_THERAPY,
    DIABETES_PCA_UNSUITABLE,
    DIABETES_PCA_DECLINED,
    BLOOD_TEST_DECLINED,
    DIABETES_INVITATION,
    DIABETES_FIRST_LETTER,
];

/// Every dm+d code above.
pub const DMD: [u64; 2] = [SALBUTAMOL_INHALER, METFORMIN_500MG_TABLETS];

/// True when the last digit of `id` is the Verhoeff check digit of the
/// others, as every SNOMED CT (and dm+d) identifier's is.
pub fn verhoeff_ok(id: u64) -> bool {
    gpes_model::verhoeff_valid(&id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verhoeff_known_values() {
        // 236 has check digit 3 (the textbook example); 2363 passes.
        assert!(verhoeff_ok(2363));
        assert!(!verhoeff_ok(2364));
        assert!(verhoeff_ok(73211009));
    }

    #[test]
    fn every_snomed_id_passes_verhoeff() {
        for id in SNOMED {
            assert!(verhoeff_ok(id), "{id} fails the Verhoeff check");
        }
        for id in DMD {
            assert!(verhoeff_ok(id), "dm+d {id} fails the Verhoeff check");
        }
    }

    #[test]
    fn partitions_are_concepts() {
        // The partition identifier (second and third digits from the right)
        // is 00 for an international concept and 10 for an extension one.
        for id in SNOMED.iter().chain(DMD.iter()) {
            let partition = (id / 10) % 100;
            assert!(
                partition == 0 || partition == 10,
                "{id}: partition {partition}"
            );
        }
    }
}
