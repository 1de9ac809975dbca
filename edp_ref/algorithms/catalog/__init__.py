"""edp_ref's algorithms, one module each (its config, randomness and update core, registered
where they are written); :mod:`edp_ref.algorithms` imports every module of this package, so a new
module here is a new entry of the registry with no other change.

* :mod:`.edp_td3`: ``edp_td3``, EDP + TD3 (Sec. 4.2, App. A.1, Algorithm 1);
* :mod:`.edp_crr`: ``edp_crr``, EDP + CRR (Sec. 4.3, App. A.2);
* :mod:`.edp_iql`: ``edp_iql``, EDP + IQL (Sec. 4.3, App. A.3);
* :mod:`.dql`: ``dql``, Diffusion-QL (Sec. 4.4, Tables 1 and 4), a variant of EDP + TD3;
* :mod:`.ablations`: ``edp_without_dpm``, ``edp_without_ap`` (Fig. 2), ``edp_td3_k100``,
  ``edp_ddpm_k100`` (Table 7), variants of EDP + TD3;
* :mod:`.td3bc`: ``td3bc``, Table 2's feed-forward TD3+BC, and its variant ``td3bc_eas``, Table
  6's TD3+EAS;
* :mod:`.gaussian_crr`, :mod:`.gaussian_iql`: ``gaussian_crr``, ``gaussian_iql``, Table 2's
  feed-forward CRR and IQL.
"""
