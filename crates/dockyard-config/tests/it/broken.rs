//! Broken deploy.toml files, each an edit of the valid fixture, with the exact message a user sees.

use crate::fixture::{check, check_broken_project, MINIMAL, VALID};

/// One test per case: the edit is recorded in the snapshot's description.
macro_rules! broken_case {
    ($name:ident, $old:expr => $new:expr) => {
        broken_case!($name, $old => $new, removing []);
    };
    ($name:ident, $old:expr => $new:expr, removing [$($removed:expr),*]) => {
        #[test]
        fn $name() {
            let rendered = check_broken_project($old, $new, &[$($removed),*]);
            insta::with_settings!({
                description => format!("{:?} => {:?}", $old, $new),
                omit_expression => true,
            }, {
                insta::assert_snapshot!(rendered);
            });
            dockyard_reliability::record(
                dockyard_reliability::Category::BadConfig,
                stringify!($name),
                &format!("{:?} => {:?}", $old, $new),
                rendered.lines().next().unwrap_or_default(),
                concat!("dockyard-config::broken::", stringify!($name)),
            );
        }
    };
}

/// Records a broken file tested outside [`broken_case!`]: `rendered` is the message asserted by its snapshot.
fn record_broken_file(case: &str, tried: &str, rendered: &str) {
    dockyard_reliability::record(
        dockyard_reliability::Category::BadConfig,
        case,
        tried,
        rendered.lines().next().unwrap_or_default(),
        &format!("dockyard-config::broken::{case}"),
    );
}

// TOML itself.
broken_case!(syntax_error_missing_value, "port = 8000" => "port = ");
broken_case!(syntax_error_unclosed_string, "wsgi = \"shop.wsgi:application\"" => "wsgi = \"shop.wsgi:application");
broken_case!(syntax_error_duplicate_key, "health_path = \"/healthz/\"" => "port = 8001");

// Unknown names.
broken_case!(unknown_top_level_table, "[context]" => "[contxt]");
broken_case!(unknown_top_level_key, "# A fixture project using every key." => "name = \"shop\"");
broken_case!(unknown_key_in_app, "port = 8000" => "prot = 8000");
broken_case!(unknown_key_without_close_match, "health_path = \"/healthz/\"" => "workers = 4");
broken_case!(unknown_key_in_base_table, "pull = false" => "pul = false");
broken_case!(unknown_sub_table, "[app.env]" => "[app.environment]");
broken_case!(unknown_base_name, "base = \"builder\"" => "base = \"buidler\"");
broken_case!(unknown_base_name_without_close_match, "base = \"runtime\"" => "base = \"deploy\"");

// [base.<name>.bootstrap] architecture.
broken_case!(bootstrap_architecture_kernel_name, "packages = [\"python3\", \"python3-venv\", \"ca-certificates\"]" => "packages = [\"python3\", \"python3-venv\", \"ca-certificates\"]\narchitecture = \"aarch64\"");
broken_case!(bootstrap_architecture_oci_platform, "packages = [\"python3\", \"python3-venv\", \"ca-certificates\"]" => "packages = [\"python3\", \"python3-venv\", \"ca-certificates\"]\narchitecture = \"linux/arm64\"");
broken_case!(bootstrap_architecture_unknown, "packages = [\"python3\", \"python3-venv\", \"ca-certificates\"]" => "packages = [\"python3\", \"python3-venv\", \"ca-certificates\"]\narchitecture = \"sparc\"");

// [platforms].
broken_case!(platforms_names_no_target, "[python]\nversion = \"3.11\"" => "[python]\nversion = \"3.11\"\n\n[platforms]\n");
broken_case!(platforms_debian_name, "[python]\nversion = \"3.11\"" => "[python]\nversion = \"3.11\"\n\n[platforms]\ntargets = [\"linux/amd64\", \"arm64\"]");
broken_case!(platforms_unknown, "[python]\nversion = \"3.11\"" => "[python]\nversion = \"3.11\"\n\n[platforms]\ntargets = [\"linux/amd64\", \"windows/amd64\"]");
broken_case!(platforms_twice, "[python]\nversion = \"3.11\"" => "[python]\nversion = \"3.11\"\n\n[platforms]\ntargets = [\"linux/amd64\", \"linux/amd64\"]");
broken_case!(platforms_leave_out_this_machine, "[python]\nversion = \"3.11\"" => "[python]\nversion = \"3.11\"\n\n[platforms]\ntargets = [\"linux/s390x\"]");
broken_case!(platforms_engine_of_this_machine, "[python]\nversion = \"3.11\"" => "[python]\nversion = \"3.11\"\n\n[platforms]\ntargets = [\"linux/amd64\", \"linux/arm64\"]\nengines = { \"linux/amd64\" = \"tcp://10.0.0.5:2375\" }");
broken_case!(platforms_engine_of_no_target, "[python]\nversion = \"3.11\"" => "[python]\nversion = \"3.11\"\n\n[platforms]\ntargets = [\"linux/amd64\", \"linux/arm64\"]\nengines = { \"linux/s390x\" = \"tcp://10.0.0.5:2375\" }");
broken_case!(platforms_engine_not_an_address, "[python]\nversion = \"3.11\"" => "[python]\nversion = \"3.11\"\n\n[platforms]\ntargets = [\"linux/amd64\", \"linux/arm64\"]\nengines = { \"linux/arm64\" = \"arm-builder:2375\" }");
broken_case!(platforms_beside_an_own_production_dockerfile, "[python]\nversion = \"3.11\"" => "[python]\nversion = \"3.11\"\n\n[platforms]\ntargets = [\"linux/amd64\", \"linux/arm64\"]");

// [matrix].
broken_case!(matrix_names_no_python, "[python]\nversion = \"3.11\"" => "[python]\nversion = \"3.11\"\n\n[matrix]\n");
broken_case!(matrix_unknown_key, "[python]\nversion = \"3.11\"" => "[python]\nversion = \"3.11\"\n\n[matrix]\npythons = [\"3.11\"]");
broken_case!(matrix_empty, "[python]\nversion = \"3.11\"" => "[python]\nversion = \"3.11\"\n\n[matrix]\npython = []");
broken_case!(matrix_python_not_offered, "[python]\nversion = \"3.11\"" => "[python]\nversion = \"3.11\"\n\n[matrix]\npython = [\"3.11\", \"3.12\"]");
broken_case!(matrix_python_twice, "[python]\nversion = \"3.11\"" => "[python]\nversion = \"3.11\"\n\n[matrix]\npython = [\"3.11\", \"3.11\"]");
broken_case!(matrix_leaves_out_the_shipped_python, "[python]\nversion = \"3.11\"" => "[python]\nversion = \"3.11\"\n\n[matrix]\npython = [\"3.13\"]");
broken_case!(matrix_python_beside_an_own_builder_base, "[python]\nversion = \"3.11\"" => "[python]\nversion = \"3.11\"\n\n[matrix]\npython = [\"3.11\", \"3.13\"]");

// [dev].
broken_case!(dev_unknown_server, "server = \"gunicorn\"" => "server = \"uvicorn\"");
broken_case!(dev_privileged_port, "port = 8001" => "port = 80");
broken_case!(dev_secret_in_env, "env = { DJANGO_DEBUG = \"true\" }" => "env = { DJANGO_SECRET_KEY = \"dev\" }");

// Types.
broken_case!(wrong_type_quoted_integer, "port = 8000" => "port = \"8000\"");
broken_case!(wrong_type_integer_for_string, "name = \"shop\"" => "name = 5");
broken_case!(wrong_type_string_for_array, "requirements = [\"requirements.txt\"]" => "requirements = \"requirements.txt\"");
broken_case!(wrong_type_in_array, "requirements = [\"requirements.txt\"]" => "requirements = [\"requirements.txt\", 3]");
broken_case!(wrong_type_env_value, "DATABASE_URL = \"sqlite:////tmp/shop.sqlite3\"" => "DEBUG = false");
broken_case!(wrong_type_quoted_boolean, "pull = false" => "pull = \"false\"");
broken_case!(wrong_type_table_for_string, "base = \"runtime\"" => "base = { name = \"runtime\" }");
broken_case!(port_too_large_for_toml, "port = 8000" => "port = 99999999999999999999");

// Missing keys.
broken_case!(missing_key, "wsgi = \"shop.wsgi:application\"\n" => "");
broken_case!(missing_key_in_base, "image = \"dockyard/python-runtime:bookworm\"\n" => "");
broken_case!(missing_bootstrap_suite, "suite = \"bookworm\"\nvariant" => "variant");

// Secrets given a throwaway value per run.
broken_case!(secret_bad_name, "secrets = [\"SHOP_API_TOKEN\"]" => "secrets = [\"SHOP-API-TOKEN\"]");
broken_case!(secret_django_secret_key, "secrets = [\"SHOP_API_TOKEN\"]" => "secrets = [\"DJANGO_SECRET_KEY\"]");
broken_case!(secret_also_in_app_env, "secrets = [\"SHOP_API_TOKEN\"]" => "secrets = [\"DATABASE_URL\"]");
broken_case!(secret_named_twice, "secrets = [\"SHOP_API_TOKEN\"]" => "secrets = [\"SHOP_API_TOKEN\", \"SHOP_API_TOKEN\"]");
broken_case!(secret_written_in_app_env, "DJANGO_ALLOWED_HOSTS = \"localhost,127.0.0.1\"" => "SHOP_API_TOKEN = \"abc\"");

// Services and processes.
broken_case!(service_unknown_kind, "kind = \"postgres\"" => "kind = \"postgresql\"");
broken_case!(service_missing_version, "version = \"15\"\n" => "");
broken_case!(service_version_not_a_version, "version = \"15\"" => "version = \"fifteen\"");
broken_case!(service_version_as_a_number, "version = \"15\"" => "version = 15");
broken_case!(service_version_debian_does_not_package, "version = \"15\"" => "version = \"16\"");
broken_case!(service_bad_name, "[services.db]" => "[services.Db]");
broken_case!(service_reserved_name, "[services.db]" => "[services.nginx]");
broken_case!(service_unknown_key, "image = \"redis:7.4-bookworm\"" => "images = \"redis:7.4-bookworm\"");
broken_case!(service_bad_image, "image = \"redis:7.4-bookworm\"" => "image = \"Redis:7\"");
broken_case!(service_pull_without_image, "ready_timeout_seconds = 90" => "ready_timeout_seconds = 90\npull = true");
broken_case!(service_ready_timeout_out_of_range, "ready_timeout_seconds = 90" => "ready_timeout_seconds = 0");
broken_case!(service_env_unknown_part, "PGHOST = \"host\"" => "PGHOST = \"hostname\"");
broken_case!(service_env_bad_name, "REDIS_URL = \"url\"" => "\"REDIS-URL\" = \"url\"");
broken_case!(service_env_set_by_dockyard, "REDIS_URL = \"url\"" => "DJANGO_SECRET_KEY = \"url\"");
broken_case!(service_env_also_in_app_env, "REDIS_URL = \"url\"" => "DATABASE_URL = \"url\"");
broken_case!(service_env_also_a_secret, "REDIS_URL = \"url\"" => "SHOP_API_TOKEN = \"url\"");
broken_case!(service_env_given_by_two_services, "REDIS_URL = \"url\"" => "POSTGRES_URL = \"url\"");
broken_case!(process_duplicate_name, "name = \"beat\"" => "name = \"worker\"");
broken_case!(process_bad_name, "name = \"beat\"" => "name = \"Beat\"");
broken_case!(process_name_taken_by_a_service, "name = \"beat\"" => "name = \"db\"");
broken_case!(process_empty_command, "command = [\"celery\", \"-A\", \"shop\", \"beat\"]" => "command = []");
broken_case!(process_unknown_key, "stay_up_seconds = 3" => "stay_up = 3");
broken_case!(process_stay_up_with_ready_command, "ready_timeout_seconds = 30" => "stay_up_seconds = 30");
broken_case!(process_ready_timeout_without_ready_command, "stay_up_seconds = 3" => "ready_timeout_seconds = 3");
broken_case!(process_stay_up_out_of_range, "stay_up_seconds = 3" => "stay_up_seconds = 500");
broken_case!(process_written_as_a_table, "[[app.process]]\nname = \"beat\"" => "[app.processes]\nname = \"beat\"");

// Files and folders.
broken_case!(missing_dockerfile, "dockerfile = \"docker/builder.Dockerfile\"" => "dockerfile = \"docker/nope.Dockerfile\"");
broken_case!(dockerfile_is_a_folder, "dockerfile = \"docker/production.Dockerfile\"" => "dockerfile = \"docker/builder\"");
broken_case!(context_is_a_file, "context = \"docker/builder\"" => "context = \"docker/builder.Dockerfile\"");
broken_case!(missing_app_folder, "path = \"app\"" => "path = \"webapp\"");
broken_case!(missing_manage_py, "path = \"app\"" => "path = \"app\"", removing ["app/manage.py"]);
broken_case!(missing_requirements_file, "requirements = [\"requirements.txt\"]" => "requirements = [\"requirements.txt\", \"requirements/prod.txt\"]");
broken_case!(missing_test_requirements_file, "test_requirements = [\"requirements-test.txt\"]" => "test_requirements = [\"requirements-dev.txt\"]");
broken_case!(missing_ca_bundle, "ca_bundle = \"certs/ca.pem\"" => "ca_bundle = \"certs/corporate.pem\"");
broken_case!(missing_dockerignore, "dockerignore = \"docker.ignore\"" => "dockerignore = \".dockerignore\"");
broken_case!(app_path_escapes_project, "path = \"app\"" => "path = \"../app\"");
broken_case!(context_escapes_project, "context = \"docker/builder\"" => "context = \"docker/../../builder\"");
broken_case!(dockerfile_is_absolute, "dockerfile = \"docker/production.Dockerfile\"" => "dockerfile = \"/srv/production.Dockerfile\"");
broken_case!(requirements_escape_app, "requirements = [\"requirements.txt\"]" => "requirements = [\"../requirements.txt\"]");
broken_case!(static_root_escapes_app, "static_root = \"static/collected\"" => "static_root = \"../static\"");
broken_case!(base_bootstrap_env_secret_looking, "mirror = \"http://deb.debian.org/debian\"" => "mirror = \"http://deb.debian.org/debian\"\nenv = { AWS_SECRET_ACCESS_KEY = \"abc\" }");
broken_case!(base_bootstrap_env_invalid_name, "mirror = \"http://deb.debian.org/debian\"" => "mirror = \"http://deb.debian.org/debian\"\nenv = { \"PYTHON VERSION\" = \"3.11.2\" }");
broken_case!(static_root_absolute_system_folder, "static_root = \"static/collected\"" => "static_root = \"/usr/share/static\"");
broken_case!(static_root_absolute_in_the_app_folder, "static_root = \"static/collected\"" => "static_root = \"/app/static\"");
broken_case!(static_root_absolute_container_root, "static_root = \"static/collected\"" => "static_root = \"/\"");
broken_case!(static_root_absolute_with_dot_dot, "static_root = \"static/collected\"" => "static_root = \"/public/../collected\"");
broken_case!(static_root_absolute_under_var, "static_root = \"static/collected\"" => "static_root = \"/var/lib/static\"");
broken_case!(static_root_is_app_itself, "static_root = \"static/collected\"" => "static_root = \".\"");

// Values.
broken_case!(port_zero, "port = 8000" => "port = 0");
broken_case!(port_below_1024, "port = 8000" => "port = 80");
broken_case!(port_above_65535, "port = 8000" => "port = 70000");
broken_case!(bad_project_name, "name = \"shop\"" => "name = \"My Shop\"");
broken_case!(project_name_too_long, "name = \"shop\"" => "name = \"shop-with-a-name-that-goes-on-and-on-well-past-the-sixty-four-characters\"");
broken_case!(bad_project_version, "version = \"1.2.0\"" => "version = \"1.2.0 beta\"");
broken_case!(bad_project_source, "source = \"https://github.com/example/shop\"" => "source = \"github.com/example/shop\"");
broken_case!(bad_settings_module, "settings_module = \"shop.settings\"" => "settings_module = \"shop/settings.py\"");
broken_case!(bad_wsgi, "wsgi = \"shop.wsgi:application\"" => "wsgi = \"shop.wsgi\"");
broken_case!(health_path_without_slash, "health_path = \"/healthz/\"" => "health_path = \"healthz/\"");
broken_case!(empty_requirements, "requirements = [\"requirements.txt\"]" => "requirements = []");
broken_case!(empty_test_command, "test_command = [\"python\", \"manage.py\", \"test\", \"--noinput\", \"-v\", \"2\"]" => "test_command = []");
broken_case!(secret_looking_env_key, "DATABASE_URL = \"sqlite:////tmp/shop.sqlite3\"" => "DJANGO_SECRET_KEY = \"hunter2\"");
broken_case!(secret_looking_env_key_lowercase, "DATABASE_URL = \"sqlite:////tmp/shop.sqlite3\"" => "stripe_api_key = \"sk_live\"");
broken_case!(bad_env_key_name, "DATABASE_URL = \"sqlite:////tmp/shop.sqlite3\"" => "\"DATABASE-URL\" = \"sqlite:////tmp/shop.sqlite3\"");
broken_case!(image_reference_uppercase, "image = \"dockyard/python-runtime:bookworm\"" => "image = \"Dockyard/python-runtime:bookworm\"");
broken_case!(image_reference_bad_tag, "image = \"dockyard/python-runtime:bookworm\"" => "image = \"dockyard/python-runtime:-bookworm\"");
broken_case!(image_reference_bad_digest, "image = \"dockyard/python-runtime:bookworm\"" => "image = \"dockyard/python-runtime@sha256:1234\"");
broken_case!(bad_bootstrap_suite, "suite = \"bookworm\"\nvariant" => "suite = \"Bookworm\"\nvariant");
broken_case!(bad_bootstrap_variant, "variant = \"buildd\"" => "variant = \"minbas\"");
broken_case!(bad_bootstrap_variant_without_close_match, "variant = \"buildd\"" => "variant = \"tiny\"");
broken_case!(bad_package_name, "\"python3-dev\"" => "\"Python3-dev\"");
broken_case!(bad_bootstrap_mirror, "mirror = \"http://deb.debian.org/debian\"" => "mirror = \"deb.debian.org\"");
broken_case!(bad_volume_name, "pip_cache_volume = \"shop-pip\"" => "pip_cache_volume = \"shop pip\"");
broken_case!(user_zero, "user = 20001" => "user = 0");
broken_case!(user_negative, "user = 20001" => "user = -5");
broken_case!(empty_exclude_pattern, "exclude = [\"*.sqlite3\", \"staticfiles/\"]" => "exclude = [\"*.sqlite3\", \"\"]");

// [nginx].
broken_case!(nginx_base_unknown, "base = \"nginx\"" => "base = \"ngnix\"");
broken_case!(nginx_user_zero, "user = 20101" => "user = 0");
broken_case!(nginx_port_below_1024, "port = 8081" => "port = 80");
broken_case!(nginx_config_missing, "config = \"docker/nginx/nginx.conf\"" => "config = \"docker/nginx/default.conf\"");
broken_case!(nginx_bad_client_max_body_size, "client_max_body_size = \"25m\"" => "client_max_body_size = \"25 MB\"");
broken_case!(nginx_empty_server_names, "server_names = [\"shop.example.com\", \"*.shop.example.com\", \"127.0.0.1\"]" => "server_names = []");
broken_case!(nginx_bad_server_name, "\"*.shop.example.com\"" => "\"https://shop.example.com\"");
broken_case!(nginx_unknown_key, "client_max_body_size = \"25m\"" => "max_body_size = \"25m\"");

// [smoke] and [[smoke.check]].
broken_case!(smoke_startup_timeout_zero, "startup_timeout_seconds = 90" => "startup_timeout_seconds = 0");
broken_case!(smoke_startup_timeout_above_600, "startup_timeout_seconds = 90" => "startup_timeout_seconds = 601");
broken_case!(smoke_stop_timeout_above_120, "stop_timeout_seconds = 15" => "stop_timeout_seconds = 121");
broken_case!(smoke_size_budget_zero, "nginx_size_budget_mb = 250" => "nginx_size_budget_mb = 0");
broken_case!(smoke_host_with_a_space, "stop_timeout_seconds = 15" => "stop_timeout_seconds = 15\nhost = \"my shop\"");
broken_case!(smoke_page_without_slash, "stop_timeout_seconds = 15" => "stop_timeout_seconds = 15\npage = \"en/\"");
broken_case!(smoke_page_with_whitespace, "stop_timeout_seconds = 15" => "stop_timeout_seconds = 15\npage = \"/en/ home/\"");
broken_case!(smoke_https_as_a_string, "stop_timeout_seconds = 15" => "stop_timeout_seconds = 15\nhttps = \"yes\"");
broken_case!(production_packages_on_a_written_base, "user = 20001" => "user = 20001\npackages = [\"libpq5\"]");
broken_case!(builder_packages_on_a_written_base, "pip_cache_volume = \"shop-pip\"" => "pip_cache_volume = \"shop-pip\"\npackages = [\"libpq-dev\"]");
broken_case!(production_packages_as_a_string, "user = 20001" => "user = 20001\npackages = \"libpq5\"");
broken_case!(builder_env_secret_looking, "pip_cache_volume = \"shop-pip\"" => "pip_cache_volume = \"shop-pip\"\nenv = { AWS_SECRET_ACCESS_KEY = \"x\" }");
broken_case!(builder_env_bad_name, "pip_cache_volume = \"shop-pip\"" => "pip_cache_volume = \"shop-pip\"\nenv = { \"9LIVES\" = \"x\" }");
broken_case!(builder_settings_module_with_slashes, "pip_cache_volume = \"shop-pip\"" => "pip_cache_volume = \"shop-pip\"\nsettings_module = \"shop/settings/build.py\"");
broken_case!(builder_collectstatic_before_tests_as_a_string, "pip_cache_volume = \"shop-pip\"" => "pip_cache_volume = \"shop-pip\"\ncollectstatic_before_tests = \"yes\"");
broken_case!(smoke_silence_not_a_check_id, "stop_timeout_seconds = 15" => "stop_timeout_seconds = 15\nsilence = { W008 = \"TLS ends at the balancer\" }");
broken_case!(smoke_silence_without_a_reason, "stop_timeout_seconds = 15" => "stop_timeout_seconds = 15\nsilence = { \"security.W008\" = \" \" }");
broken_case!(smoke_deploy_checks_as_a_string, "stop_timeout_seconds = 15" => "stop_timeout_seconds = 15\ndeploy_checks = \"off\"");
broken_case!(smoke_unknown_key, "stop_timeout_seconds = 15" => "stop_timeout = 15");
broken_case!(smoke_check_duplicate_name, "name = \"sign-in form\"" => "name = \"health through nginx\"");
broken_case!(smoke_check_empty_name, "name = \"sign-in form\"" => "name = \"\"");
broken_case!(smoke_check_missing_name, "name = \"sign-in form\"\n" => "");
broken_case!(smoke_check_path_without_slash, "path = \"/accounts/login/\"" => "path = \"accounts/login/\"");
broken_case!(smoke_check_unknown_via, "via = \"nginx\"" => "via = \"proxy\"");
broken_case!(smoke_check_unknown_via_close_match, "via = \"nginx\"" => "via = \"ngnix\"");
broken_case!(smoke_check_unknown_method, "method = \"POST\"" => "method = \"DELETE\"");
broken_case!(smoke_check_lowercase_method, "method = \"POST\"" => "method = \"post\"");
broken_case!(smoke_check_status_42, "status = 403" => "status = 42");
broken_case!(smoke_check_unknown_key, "status = 403" => "statuss = 403");
broken_case!(smoke_check_wrong_type_json_value, "\"checks.database\" = \"ok\"" => "\"checks.database\" = true");
broken_case!(smoke_check_bad_json_path, "\"checks.database\" = \"ok\"" => "\"checks..database\" = \"ok\"");
broken_case!(smoke_check_bad_header_name, "\"Content-Type\" = \"application/json\"" => "\"Content Type\" = \"application/json\"");
broken_case!(smoke_check_header_listed_twice, "\"Content-Type\" = \"application/json\"" => "\"Content-Type\" = \"application/json\", \"content-type\" = \"json\"");
broken_case!(smoke_check_bad_host, "host = \"shop.example.com\"" => "host = \"shop example\"");
broken_case!(smoke_check_empty_body_substring, "body_contains = [\"CSRF\", \"Forbidden\"]" => "body_contains = [\"CSRF\", \"\"]");

// [assets].
broken_case!(assets_unknown_package_manager, "package_manager = \"npm\"" => "package_manager = \"nmp\"");
broken_case!(assets_unknown_runs_in, "runs_in = \"node\"" => "runs_in = \"python\"");
broken_case!(assets_unknown_key, "runs_in = \"node\"" => "run_in = \"node\"");
broken_case!(assets_missing_folder, "path = \"app/frontend\"" => "path = \"app/front\"");
broken_case!(assets_without_package_json, "path = \"app/frontend\"" => "path = \"app/frontend\"", removing ["app/frontend/package.json"]);
broken_case!(assets_output_beside_app_in_a_system_folder, "outputs = [\"app/frontend/dist\"]" => "outputs = [\"usr/share/dist\"]");
broken_case!(assets_output_beside_app_in_the_builder_source, "outputs = [\"app/frontend/dist\"]" => "outputs = [\"src\"]");
broken_case!(assets_output_is_app_itself, "outputs = [\"app/frontend/dist\"]" => "outputs = [\"app\"]");
broken_case!(assets_source_missing, "outputs = [\"app/frontend/dist\"]" => "outputs = [\"app/frontend/dist\"]\nsources = [\"templates\"]");
broken_case!(assets_source_in_the_asset_folder, "outputs = [\"app/frontend/dist\"]" => "outputs = [\"app/frontend/dist\"]\nsources = [\"app/frontend\"]");
broken_case!(assets_source_inside_another, "outputs = [\"app/frontend/dist\"]" => "outputs = [\"app/frontend/dist\"]\nsources = [\"docker\", \"docker/builder\"]");
broken_case!(assets_source_not_a_list, "outputs = [\"app/frontend/dist\"]" => "outputs = [\"app/frontend/dist\"]\nsources = \"docker\"");
broken_case!(assets_output_escapes_project, "outputs = [\"app/frontend/dist\"]" => "outputs = [\"../dist\"]");
broken_case!(assets_output_listed_twice, "outputs = [\"app/frontend/dist\"]" => "outputs = [\"app/frontend/dist\", \"app/frontend/dist/\"]");
broken_case!(assets_no_outputs_in_node, "outputs = [\"app/frontend/dist\"]" => "outputs = []");
broken_case!(assets_no_build, "build_script = \"build\"\n" => "");
broken_case!(assets_build_script_and_command, "build_script = \"build\"" => "build_script = \"build\"\nbuild_command = [\"node\", \"build.mjs\"]");
broken_case!(assets_empty_build_command, "build_script = \"build\"" => "build_command = []");
broken_case!(assets_timeout_above_3600, "timeout_seconds = 300" => "timeout_seconds = 7200");
broken_case!(assets_in_a_builder_base_without_node, "runs_in = \"node\"" => "runs_in = \"builder\"");
broken_case!(assets_secret_looking_env_key, "NODE_ENV = \"production\"" => "NPM_TOKEN = \"npm_abc\"");

// [scan] and [[scan.ignore]].
broken_case!(scan_missing_trivy_version, "trivy_version = \"0.76.0\"\n" => "");
broken_case!(scan_bad_trivy_version, "trivy_version = \"0.76.0\"" => "trivy_version = \"latest\"");
broken_case!(scan_trivy_version_with_v, "trivy_version = \"0.76.0\"" => "trivy_version = \"v0.76.0\"");
broken_case!(scan_unknown_key, "ignore_unfixed = true" => "ignore_unfixable = true");
broken_case!(scan_unknown_scanner, "scanners = [\"vuln\", \"secret\", \"misconfig\", \"license\"]" => "scanners = [\"vuln\", \"secrets\", \"misconfig\", \"license\"]");
broken_case!(scan_duplicate_scanner, "scanners = [\"vuln\", \"secret\", \"misconfig\", \"license\"]" => "scanners = [\"vuln\", \"secret\", \"vuln\"]");
broken_case!(scan_empty_scanners, "scanners = [\"vuln\", \"secret\", \"misconfig\", \"license\"]" => "scanners = []");
broken_case!(scan_unknown_image, "images = [\"app\", \"nginx\", \"builder\"]" => "images = [\"app\", \"web\"]");
broken_case!(scan_bad_severity, "fail_on_severity = \"critical\"" => "fail_on_severity = \"HGIH\"");
broken_case!(scan_bad_misconfig_severity_without_close_match, "misconfig_fail_on_severity = \"Medium\"" => "misconfig_fail_on_severity = \"severe\"");
broken_case!(scan_timeout_5, "timeout_seconds = 900" => "timeout_seconds = 5");
broken_case!(scan_timeout_4000, "timeout_seconds = 900" => "timeout_seconds = 4000");
broken_case!(scan_cache_dir_escapes_project, "cache_dir = \"target/trivy-cache\"" => "cache_dir = \"target/../../trivy-cache\"");
broken_case!(scan_cache_dir_is_project_itself, "cache_dir = \"target/trivy-cache\"" => "cache_dir = \"./\"");
broken_case!(scan_empty_db_repository, "db_repository = \"registry.example.com/trivy-db:2\"" => "db_repository = \"\"");
broken_case!(scan_skip_db_update_with_db_repository, "db_repository = \"registry.example.com/trivy-db:2\"" => "db_repository = \"registry.example.com/trivy-db:2\"\nskip_db_update = true");
broken_case!(scan_skip_db_update_not_a_bool, "db_repository = \"registry.example.com/trivy-db:2\"" => "skip_db_update = \"yes\"");
broken_case!(scan_ignore_missing_reason, "reason = \"bash is not reachable from the app\"\n" => "");
broken_case!(scan_ignore_short_reason, "reason = \"bash is not reachable from the app\"" => "reason = \"wontfix\"");
broken_case!(scan_ignore_missing_expires, "expires = 2026-12-31\n" => "");
broken_case!(scan_ignore_expires_no_such_month, "expires = 2026-12-31" => "expires = \"2026-13-01\"");
broken_case!(scan_ignore_expires_no_such_day, "expires = \"2027-03-01\"" => "expires = \"2027-02-29\"");
broken_case!(scan_ignore_expires_not_a_date, "expires = \"2027-03-01\"" => "expires = \"next spring\"");
broken_case!(scan_ignore_expires_with_a_time, "expires = 2026-12-31" => "expires = 2026-12-31T23:59:59");
broken_case!(scan_ignore_expires_integer, "expires = 2026-12-31" => "expires = 20261231");
broken_case!(scan_ignore_bad_package, "package = \"pkg:deb/debian/bash\"" => "package = \"deb/debian/bash\"");
broken_case!(scan_ignore_unknown_image, "image = \"app\"" => "image = \"ap\"");
broken_case!(scan_ignore_unknown_key, "expires = 2026-12-31" => "expiry = 2026-12-31");
broken_case!(scan_ignore_duplicate, "expires = \"2027-03-01\"\n" => "expires = \"2027-03-01\"\n\n[[scan.ignore]]\nid = \"CVE-2023-45853\"\nreason = \"still not used by anything in the image\"\nexpires = 2027-06-30\n");

// [release].
broken_case!(release_registry_with_scheme, "registry = \"registry.example.com:5000/shop-team\"" => "registry = \"https://ghcr.io\"");
broken_case!(release_registry_with_trailing_slash, "registry = \"registry.example.com:5000/shop-team\"" => "registry = \"ghcr.io/example/\"");
broken_case!(release_registry_uppercase_path, "registry = \"registry.example.com:5000/shop-team\"" => "registry = \"ghcr.io/Example-Shop\"");
broken_case!(release_registry_with_tag, "registry = \"registry.example.com:5000/shop-team\"" => "registry = \"ghcr.io/example/shop:1.2.0\"");
broken_case!(release_registry_docker_hub_namespace, "registry = \"registry.example.com:5000/shop-team\"" => "registry = \"example\"");
broken_case!(release_registry_bad_port, "registry = \"registry.example.com:5000/shop-team\"" => "registry = \"localhost:http\"");
broken_case!(release_bad_app_repository, "app_repository = \"shop\"" => "app_repository = \"Example/Shop\"");
broken_case!(release_app_repository_with_registry_host, "app_repository = \"shop\"" => "app_repository = \"ghcr.io/example/shop\"");
broken_case!(release_nginx_repository_same_as_app, "nginx_repository = \"shop-proxy\"" => "nginx_repository = \"shop\"");
broken_case!(release_empty_tags, "tags = [\"{version}\", \"sha-{git_sha}\", \"{project}-{version}\"]" => "tags = []");
broken_case!(release_unknown_placeholder, "tags = [\"{version}\"," => "tags = [\"{verison}\",");
broken_case!(release_unknown_placeholder_without_close_match, "tags = [\"{version}\"," => "tags = [\"{branch}\",");
broken_case!(release_unclosed_placeholder, "\"sha-{git_sha}\"" => "\"sha-{git_sha\"");
broken_case!(release_tag_with_a_space, "\"sha-{git_sha}\"" => "\"sha {git_sha}\"");
broken_case!(release_tag_starting_with_a_dot, "\"{project}-{version}\"" => "\".{version}\"");
broken_case!(release_tag_too_long, "\"{project}-{version}\"" => "\"{project}-{version}-built-from-a-tag-template-that-goes-on-and-on-and-on-well-past-the-one-hundred-and-twenty-eight-characters-docker-allows\"");
broken_case!(release_duplicate_tag, "\"{project}-{version}\"" => "\"{version}\"");
broken_case!(release_moving_tag_also_in_tags, "moving_tags = [\"latest\", \"stable\"]" => "moving_tags = [\"latest\", \"{version}\"]");
broken_case!(release_push_attempts_zero, "push_attempts = 3" => "push_attempts = 0");
broken_case!(release_push_attempts_11, "push_attempts = 3" => "push_attempts = 11");
broken_case!(release_push_backoff_70000, "push_backoff_ms = 250" => "push_backoff_ms = 70000");
broken_case!(release_username_env_is_a_token, "username_env = \"SHOP_REGISTRY_USERNAME\"" => "username_env = \"ghp_1a2B3c4D5e6F7g8H9i0JkLmNoPqRsTuVwXyZ\"");
broken_case!(release_password_env_lowercase, "password_env = \"SHOP_REGISTRY_PASSWORD\"" => "password_env = \"shop_registry_password\"");
broken_case!(release_password_env_same_as_username_env, "password_env = \"SHOP_REGISTRY_PASSWORD\"" => "password_env = \"SHOP_REGISTRY_USERNAME\"");
broken_case!(release_signing_key_env_is_a_key, "signing_key_env = \"SHOP_SIGNING_KEY\"" => "signing_key_env = \"-----BEGIN PRIVATE KEY-----\"");
broken_case!(release_signing_key_env_lowercase, "signing_key_env = \"SHOP_SIGNING_KEY\"" => "signing_key_env = \"shop_signing_key\"");
broken_case!(release_signing_key_env_same_as_password_env, "signing_key_env = \"SHOP_SIGNING_KEY\"" => "signing_key_env = \"SHOP_REGISTRY_PASSWORD\"");
broken_case!(release_unknown_key, "moving_tags = [" => "moving_tag = [");
broken_case!(release_wrong_type_push_attempts, "push_attempts = 3" => "push_attempts = \"3\"");

// [python].
broken_case!(python_version_unknown, "version = \"3.11\"" => "version = \"3.12\"");
broken_case!(python_version_far_from_any, "version = \"3.11\"" => "version = \"2.7\"");
broken_case!(python_version_with_prefix, "version = \"3.11\"" => "version = \"python3.13\"");
broken_case!(python_version_wrong_type_float, "version = \"3.11\"" => "version = 3.11");
broken_case!(python_version_wrong_type_integer, "version = \"3.11\"" => "version = 3");
broken_case!(python_unknown_key, "[python]\nversion = \"3.11\"" => "[python]\npython_version = \"3.11\"");
broken_case!(python_ignore_not_a_request_file, "[python]\nversion = \"3.11\"" => "[python]\nversion = \"3.11\"\n\n[[python.ignore]]\nfile = \"app/requirements.txt\"\nreason = \"x\"");
broken_case!(python_ignore_missing_file, "[python]\nversion = \"3.11\"" => "[python]\nversion = \"3.11\"\n\n[[python.ignore]]\nfile = \"app/.python-version\"\nreason = \"x\"");
broken_case!(python_ignore_below_the_app_folder, "[python]\nversion = \"3.11\"" => "[python]\nversion = \"3.11\"\n\n[[python.ignore]]\nfile = \"app/frontend/Pipfile\"\nreason = \"x\"");
broken_case!(python_ignore_escapes, "[python]\nversion = \"3.11\"" => "[python]\nversion = \"3.11\"\n\n[[python.ignore]]\nfile = \"../runtime.txt\"\nreason = \"x\"");
broken_case!(python_ignore_absolute, "[python]\nversion = \"3.11\"" => "[python]\nversion = \"3.11\"\n\n[[python.ignore]]\nfile = \"/app/runtime.txt\"\nreason = \"x\"");
broken_case!(python_ignore_twice, "[python]\nversion = \"3.11\"" => "[python]\nversion = \"3.11\"\n\n[[python.ignore]]\nfile = \"app/runtime.txt\"\nreason = \"x\"\n\n[[python.ignore]]\nfile = \"app/runtime.txt\"\nreason = \"y\"");
broken_case!(python_ignore_empty_reason, "[python]\nversion = \"3.11\"" => "[python]\nversion = \"3.11\"\n\n[[python.ignore]]\nfile = \"app/runtime.txt\"\nreason = \"  \"");
broken_case!(python_ignore_missing_reason, "[python]\nversion = \"3.11\"" => "[python]\nversion = \"3.11\"\n\n[[python.ignore]]\nfile = \"app/runtime.txt\"");
broken_case!(python_ignore_unknown_key, "[python]\nversion = \"3.11\"" => "[python]\nversion = \"3.11\"\n\n[[python.ignore]]\nfile = \"app/runtime.txt\"\nreason = \"x\"\nexpires = \"2027-01-01\"");

// Closed sets of names and dates, resolved into enums and a date.
broken_case!(scan_misconfig_severity_close_match, "misconfig_fail_on_severity = \"Medium\"" => "misconfig_fail_on_severity = \"Meduim\"");
broken_case!(scan_severity_wrong_type, "fail_on_severity = \"critical\"" => "fail_on_severity = [\"HIGH\"]");
broken_case!(scan_image_close_match, "images = [\"app\", \"nginx\", \"builder\"]" => "images = [\"app\", \"nginx\", \"buidler\"]");
broken_case!(scan_duplicate_image, "images = [\"app\", \"nginx\", \"builder\"]" => "images = [\"app\", \"nginx\", \"app\"]");
broken_case!(scan_scanner_close_match, "scanners = [\"vuln\", \"secret\", \"misconfig\", \"license\"]" => "scanners = [\"vuln\", \"secrets\", \"misconfig\", \"license\"]");
broken_case!(scan_ignore_image_close_match, "image = \"app\"\npackage" => "image = \"ngnix\"\npackage");
broken_case!(smoke_check_method_close_match, "method = \"HEAD\"" => "method = \"HAED\"");
broken_case!(smoke_check_via_wrong_type, "via = \"app\"" => "via = 1");
broken_case!(scan_ignore_expires_february_29_of_a_common_year, "expires = 2026-12-31" => "expires = \"2027-02-29\"");
broken_case!(scan_ignore_expires_string_no_such_day, "expires = \"2027-03-01\"" => "expires = \"2027-04-31\"");

// Template files named in deploy.toml (each is optional; a name that is written must exist).
broken_case!(production_dockerfile_missing, "dockerfile = \"docker/production.Dockerfile\"" => "dockerfile = \"docker/prod.Dockerfile\"");
broken_case!(nginx_dockerfile_missing, "dockerfile = \"docker/nginx.Dockerfile\"" => "dockerfile = \"docker/ngnix.Dockerfile\"");
broken_case!(builder_context_missing, "context = \"docker/builder\"" => "context = \"docker/build\"");
broken_case!(nginx_config_is_a_folder, "config = \"docker/nginx/nginx.conf\"" => "config = \"docker/builder\"");

#[test]
fn missing_table() {
    let text = MINIMAL.replace(
        "[app]\npath = \"app\"\nsettings_module = \"shop.settings\"\nwsgi = \"shop.wsgi:application\"\nport = 8000\nrequirements = [\"requirements.txt\"]\n",
        "",
    );
    assert_ne!(text, MINIMAL, "the edit applies");
    let rendered = check(&text);
    insta::assert_snapshot!(rendered);
    record_broken_file("missing_table", "missing table", &rendered);
}

#[test]
fn missing_project_table_in_an_empty_file() {
    let rendered = check("");
    insta::assert_snapshot!(rendered);
    record_broken_file(
        "missing_project_table_in_an_empty_file",
        "missing project table in an empty file",
        &rendered,
    );
}

#[test]
fn empty_base_table() {
    let without_bases = MINIMAL.replace("[base.runtime]\nimage = \"python:3.12-slim\"\n", "");
    assert_ne!(without_bases, MINIMAL, "the edit applies");
    let rendered = check(&format!("base = {{}}\n{without_bases}"));
    insta::assert_snapshot!(rendered);
    record_broken_file("empty_base_table", "empty base table", &rendered);
}

#[test]
fn packages_with_a_bad_name_on_a_built_in_base() {
    let text = MINIMAL
        .replace("[base.runtime]\nimage = \"python:3.12-slim\"\n", "")
        .replace("base = \"runtime\"\n", "");
    let text = text.replace(
        "[production]\n",
        "[production]\npackages = [\"libpq5\", \"LibPQ-Dev\"]\n",
    );
    assert!(text.contains("LibPQ"), "the edit applies");
    let rendered = check(&text);
    insta::assert_snapshot!(rendered);
    record_broken_file(
        "packages_with_a_bad_name_on_a_built_in_base",
        "[production] packages = [\"libpq5\", \"LibPQ-Dev\"] on the built-in runtime base",
        &rendered,
    );
}

#[test]
fn bad_base_name() {
    let text = MINIMAL.replace("[base.runtime]", "[base.Runtime]");
    let text = text.replace("base = \"runtime\"", "base = \"Runtime\"");
    assert_ne!(text, MINIMAL, "the edit applies");
    let rendered = check(&text);
    insta::assert_snapshot!(rendered);
    record_broken_file("bad_base_name", "bad base name", &rendered);
}

#[test]
fn array_of_tables_where_a_table_belongs() {
    let text = MINIMAL.replace("[production]", "[[production]]");
    let rendered = check(&text);
    insta::assert_snapshot!(rendered);
    record_broken_file(
        "array_of_tables_where_a_table_belongs",
        "array of tables where a table belongs",
        &rendered,
    );
}

/// [`VALID`] without its `[nginx]` table.
fn valid_without_nginx() -> String {
    let start = VALID.find("[nginx]\n").expect("the fixture has [nginx]");
    let length = VALID[start..]
        .find("\n\n")
        .expect("a blank line follows [nginx]");
    let text = format!("{}{}", &VALID[..start], &VALID[start + length + 2..]);
    assert!(!text.contains("[nginx]"), "the edit applies");
    text
}

#[test]
fn smoke_check_via_nginx_without_nginx_table() {
    let rendered = check(&valid_without_nginx());
    insta::assert_snapshot!(rendered);
    record_broken_file(
        "smoke_check_via_nginx_without_nginx_table",
        "smoke check via nginx without nginx table",
        &rendered,
    );
}

#[test]
fn smoke_check_default_via_without_nginx_table() {
    let text = format!("{MINIMAL}\n[[smoke.check]]\nname = \"home page\"\npath = \"/\"\n");
    let rendered = check(&text);
    insta::assert_snapshot!(rendered);
    record_broken_file(
        "smoke_check_default_via_without_nginx_table",
        "smoke check default via without nginx table",
        &rendered,
    );
}

#[test]
fn smoke_check_written_as_a_table() {
    let text = format!("{MINIMAL}\n[smoke.check]\nname = \"home page\"\npath = \"/\"\n");
    let rendered = check(&text);
    insta::assert_snapshot!(rendered);
    record_broken_file(
        "smoke_check_written_as_a_table",
        "smoke check written as a table",
        &rendered,
    );
}

#[test]
fn scan_nginx_image_without_nginx_table() {
    let text =
        format!("{MINIMAL}\n[scan]\ntrivy_version = \"0.76.0\"\nimages = [\"app\", \"nginx\"]\n");
    let rendered = check(&text);
    insta::assert_snapshot!(rendered);
    record_broken_file(
        "scan_nginx_image_without_nginx_table",
        "scan nginx image without nginx table",
        &rendered,
    );
}

#[test]
fn scan_default_images_without_nginx_table() {
    let text = format!("{MINIMAL}\n[scan]\ntrivy_version = \"0.76.0\"\n");
    let rendered = check(&text);
    insta::assert_snapshot!(rendered);
    record_broken_file(
        "scan_default_images_without_nginx_table",
        "scan default images without nginx table",
        &rendered,
    );
}

#[test]
fn scan_ignore_written_as_a_table() {
    let text = format!(
        "{MINIMAL}\n[scan]\ntrivy_version = \"0.76.0\"\nimages = [\"app\"]\n\n[scan.ignore]\n\
         id = \"CVE-2019-18276\"\nreason = \"bash is not reachable from the app\"\n\
         expires = 2026-12-31\n"
    );
    let rendered = check(&text);
    insta::assert_snapshot!(rendered);
    record_broken_file(
        "scan_ignore_written_as_a_table",
        "scan ignore written as a table",
        &rendered,
    );
}

#[test]
fn missing_deploy_file() {
    let folder = tempfile::tempdir().expect("create a temporary folder");
    let root = folder.path().canonicalize().expect("canonicalize");
    let error = dockyard_config::load(&root.join("deploy.toml")).expect_err("no file, no config");
    assert_eq!(error.line(), None);
    assert_eq!(
        error.hint(),
        Some("run from the project folder or pass --config")
    );
    let rendered = crate::fixture::redact_root(&error.to_string(), &root);
    insta::assert_snapshot!(rendered);
    record_broken_file(
        "missing_deploy_file",
        "no deploy.toml where --config points",
        &rendered,
    );
}

#[test]
fn deploy_file_is_a_folder() {
    let folder = tempfile::tempdir().expect("create a temporary folder");
    let root = folder.path().canonicalize().expect("canonicalize");
    let error = dockyard_config::load(&root).expect_err("a folder is no config");
    let rendered = crate::fixture::redact_root(&error.to_string(), &root);
    insta::assert_snapshot!(rendered);
    record_broken_file(
        "deploy_file_is_a_folder",
        "--config pointing at a folder",
        &rendered,
    );
}

#[test]
fn error_accessors_support_ci_annotations() {
    let error = match dockyard_config::parse(
        &VALID.replacen("port = 8000", "prot = 8000", 1),
        std::path::Path::new("/nowhere/deploy.toml"),
    ) {
        Ok(_) => panic!("the key is misspelt"),
        Err(error) => error,
    };
    assert_eq!(
        error.file(),
        Some(std::path::Path::new("/nowhere/deploy.toml"))
    );
    assert_eq!(error.line(), Some(12));
    assert_eq!(error.column(), Some(1));
    assert_eq!(error.key(), Some("app.prot"));
    assert_eq!(error.message(), "unknown key `prot` in `[app]`");
    assert_eq!(error.hint(), Some("did you mean `port`?"));
}

#[test]
fn release_nginx_repository_without_nginx_table() {
    let text = format!("{MINIMAL}\n[release]\nnginx_repository = \"shop-nginx\"\n");
    let rendered = check(&text);
    insta::assert_snapshot!(rendered);
    record_broken_file(
        "release_nginx_repository_without_nginx_table",
        "release nginx repository without nginx table",
        &rendered,
    );
}

#[test]
fn release_default_app_repository_from_a_project_name_docker_refuses() {
    let text = MINIMAL.replace("name = \"shop\"", "name = \"shop.\"");
    assert_ne!(text, MINIMAL, "the edit applies");
    let rendered = check(&format!("{text}\n[release]\n"));
    insta::assert_snapshot!(rendered);
    record_broken_file(
        "release_default_app_repository_from_a_project_name_docker_refuses",
        "release default app repository from a project name docker refuses",
        &rendered,
    );
}

#[test]
fn release_moving_tag_in_the_default_tags() {
    let text = format!("{MINIMAL}\n[release]\nmoving_tags = [\"latest\", \"{{version}}\"]\n");
    let rendered = check(&text);
    insta::assert_snapshot!(rendered);
    record_broken_file(
        "release_moving_tag_in_the_default_tags",
        "release moving tag in the default tags",
        &rendered,
    );
}

#[test]
fn release_default_moving_tag_in_the_tags() {
    let text = format!("{MINIMAL}\n[release]\ntags = [\"{{version}}\", \"latest\"]\n");
    let rendered = check(&text);
    insta::assert_snapshot!(rendered);
    record_broken_file(
        "release_default_moving_tag_in_the_tags",
        "release default moving tag in the tags",
        &rendered,
    );
}

/// The fixture project with `link` (inside it) a symbolic link to a folder outside it, holding `files`.
fn check_with_link_leaving_the_project(link: &str, files: &[&str]) -> String {
    let folder = crate::fixture::write_fixture_project(VALID, &[], &[]);
    let outside = tempfile::tempdir().expect("create a temporary folder");
    for file in files {
        let path = outside.path().join(file);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("create a folder");
        std::fs::write(&path, "outside\n").expect("write a file");
    }
    let link_path = folder.path().join(link);
    if link_path.is_dir() {
        std::fs::remove_dir_all(&link_path).expect("remove the fixture folder");
    } else {
        std::fs::remove_file(&link_path).expect("remove the fixture file");
    }
    std::os::unix::fs::symlink(outside.path(), &link_path).expect("make the link");
    let root = crate::fixture::canonical_root(&folder);
    let error = match dockyard_config::parse(VALID, &root.join("deploy.toml")) {
        Ok(_) => panic!("a path through {link} leaves the project"),
        Err(error) => error,
    };
    assert!(error.line().is_some() && error.key().is_some());
    let outside_root = outside.path().canonicalize().expect("canonicalize");
    crate::fixture::redact_root(&error.to_string(), &root)
        .replace(&outside_root.display().to_string(), "[OUTSIDE]")
}

#[test]
fn app_folder_is_a_link_leaving_the_project() {
    let rendered = check_with_link_leaving_the_project(
        "app",
        &["manage.py", "requirements.txt", "requirements-test.txt"],
    );
    insta::assert_snapshot!(rendered);
    record_broken_file(
        "app_folder_is_a_link_leaving_the_project",
        "path = \"app\" where app is a symbolic link to a folder outside the project",
        &rendered,
    );
}

#[test]
fn builder_context_is_a_link_leaving_the_project() {
    let rendered = check_with_link_leaving_the_project("docker/builder", &["dockyard-build"]);
    insta::assert_snapshot!(rendered);
    record_broken_file(
        "builder_context_is_a_link_leaving_the_project",
        "context = \"docker/builder\" where docker/builder is a symbolic link to a folder outside the project",
        &rendered,
    );
}
